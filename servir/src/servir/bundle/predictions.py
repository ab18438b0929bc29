"""What a model answers for some rows, and where two sets of answers first differ."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from servir.bundle.values import label
from servir.errors import BundleError
from shared_schemas.manifest import Label, Task


@dataclass(frozen=True)
class Answers:
    """One prediction per row (JSON values) and, when the model has them, its probabilities."""

    labels: list[Label]
    probabilities: np.ndarray | None


def answer(model: Any, rows: Any, count: int) -> Answers:
    """`model`'s predictions for `count` rows; BundleError when it cannot give one per row."""
    predicted = np.asarray(model.predict(rows))
    if predicted.shape != (count,):
        raise BundleError(
            f"the model's predict answers shape {predicted.shape} for {count} rows; "
            "Servir serves one prediction per row"
        )
    probabilities = None
    # The service asks for probabilities wherever the estimator offers them.
    if hasattr(model, "predict_proba"):
        probabilities = np.asarray(model.predict_proba(rows), dtype=np.float64)
    return Answers([label(value) for value in predicted.tolist()], probabilities)


def first_difference(expected: Answers, found: Answers, task: Task) -> int | None:
    """The first row whose answers differ: labels exactly (regression: numbers within
    numpy.isclose), probabilities within numpy.isclose; None when all agree."""
    for row, (want, got) in enumerate(zip(expected.labels, found.labels, strict=True)):
        if not _same_label(want, got, task):
            return row
    if (expected.probabilities is None) != (found.probabilities is None):
        return 0
    if expected.probabilities is not None and found.probabilities is not None:
        if expected.probabilities.shape != found.probabilities.shape:
            return 0
        close = np.isclose(expected.probabilities, found.probabilities).all(axis=1)
        if not close.all():
            return int(np.argmin(close))
    return None


def _same_label(want: Label, got: Label, task: Task) -> bool:
    if (
        task == "regression"
        and not isinstance(want, str | bool)
        and not isinstance(got, str | bool)
    ):
        return bool(np.isclose(want, got))
    return type(want) is type(got) and want == got
