"""A bundle's test predictions at verification: synthetic rows drawn from its manifest
(canary.py), then its own examples, which must come out as recorded.

Labels must be equal (a string to a string, a number to a number); numbers (a regression's
predictions, probabilities) may differ by MODEL_EXAMPLE_TOLERANCE, absolute. A manifest whose
features are in another order than the model was fitted with answers otherwise, and is refused
here, naming the first example that differs (counted from 1) and both values.
"""

import json
import math
from typing import Any

import numpy as np

from model_service.models.bundles import Bundle, BundleError
from model_service.models.canary import Answers, check_answers, predict_rows, synthetic_rows
from model_service.models.schemas import ModelSchemas, build_schemas
from shared_schemas.manifest import Example


def check_predictions(bundle: Bundle, tolerance: float) -> None:
    """Predict synthetic rows, then the bundle's examples; BundleError says why it must not
    serve."""
    schemas = build_schemas(bundle.manifest, max_rows=1)
    rows = synthetic_rows(bundle.manifest)

    def synthetic(index: int) -> str:
        return f"synthetic row {index + 1} of {len(rows)}"

    check_answers(bundle, predict_rows(bundle, schemas, rows, synthetic), len(rows), synthetic)
    if bundle.manifest.examples:
        check_examples(bundle, schemas, tolerance)


def _example(index: int) -> str:
    return f"example {index + 1}"


def check_examples(bundle: Bundle, schemas: ModelSchemas, tolerance: float) -> None:
    """The model must answer each example as recorded; the first that differs refuses it."""
    examples = bundle.manifest.examples
    rows = [example.inputs for example in examples]
    answers = predict_rows(bundle, schemas, rows, _example)
    check_answers(bundle, answers, len(rows), _example)
    regression = bundle.manifest.task == "regression"
    for index, example in enumerate(examples):
        difference = _difference(bundle, example, answers, index, regression, tolerance)
        if difference is not None:
            raise BundleError(f"{_example(index)} differs: {difference}")


def _difference(
    bundle: Bundle,
    example: Example,
    answers: Answers,
    index: int,
    regression: bool,
    tolerance: float,
) -> str | None:
    answered, recorded = answers.predictions[index], example.prediction
    same = _close(answered, recorded, tolerance) if regression else _equal(answered, recorded)
    if not same:
        return f"the model answered {_shown(answered)}, the bundle recorded {_shown(recorded)}"
    if example.probabilities is None:
        return None
    if answers.probabilities is None:
        return "the bundle recorded probabilities; the model has none"
    return _probability_difference(bundle, answers.probabilities[index], example, tolerance)


def _probability_difference(
    bundle: Bundle, answered: list[float], example: Example, tolerance: float
) -> str | None:
    recorded = example.probabilities or []
    if len(answered) != len(recorded):
        return (
            f"the model answered {len(answered)} probabilities, the bundle recorded {len(recorded)}"
        )
    classes = getattr(bundle.estimator, "classes_", None)
    labels = np.asarray(classes).tolist() if classes is not None else None
    for position, (mine, theirs) in enumerate(zip(answered, recorded, strict=True)):
        if not _close(mine, theirs, tolerance):
            of = _shown(labels[position]) if labels is not None else f"#{position + 1}"
            return f"the model's probability of {of} is {mine!r}, the bundle recorded {theirs!r}"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _equal(answered: Any, recorded: Any) -> bool:
    """Labels exactly: the same kind (`"1"` is not 1, True is not 1) and equal."""
    return _kind(answered) == _kind(recorded) and bool(answered == recorded)


def _close(answered: Any, recorded: Any, tolerance: float) -> bool:
    """Numbers within the tolerance (a non-finite answer never is)."""
    if _kind(answered) != "number" or _kind(recorded) != "number":
        return False
    return math.isfinite(answered) and abs(answered - recorded) <= tolerance


def _shown(value: Any) -> str:
    """A value as the manifest writes it: `"Gato"`, `1`, `0.25`, `true`."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
