"""Test predictions at verification: rows through the same typed instance model, array
conversion and model input a real request takes, and the sanity of what the model answers.

Every bundle is predicted on synthetic rows drawn from its manifest (below); one that records
examples is then held to them (examples.py). Whatever fails is a BundleError naming the row.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from model_service.models.bundles import Bundle, BundleError
from model_service.models.schemas import ModelSchemas, bounds
from shared_schemas.manifest import FeatureSpec, Manifest

# Enough rows to reach both ends of every number and to vary the combinations; more when a
# feature has more categories, so that each category is predicted once.
SYNTHETIC_ROWS = 8
# The random rows of the compiled model's comparison are the same on every verification.
PARITY_SEED = 14
# Where a number with no bounds and no statistics is drawn: around 0.
AROUND_ZERO = (-1.0, 1.0)
Describe = Callable[[int], str]


@dataclass(frozen=True)
class Answers:
    """What the model answered for some rows: one prediction (and probability row) each."""

    predictions: list[Any]
    probabilities: list[list[float]] | None


def _points(feature: FeatureSpec, manifest: Manifest) -> list[float]:
    """The values a number is spread over: its hard bounds, else the reference's decile edges,
    else the training min..max, else around 0 (shifted inside a lone bound)."""
    if feature.min is not None and feature.max is not None:
        return [feature.min, feature.max]
    reference = (manifest.reference or {}).get(feature.name)
    if reference is not None and reference.edges is not None:
        return reference.edges
    stats = (manifest.training_stats or {}).get(feature.name)
    if stats is not None and stats.min is not None and stats.max is not None:
        return [stats.min, stats.max]
    low, high = AROUND_ZERO
    if feature.min is not None:
        return [feature.min, feature.min + high - low]
    if feature.max is not None:
        return [feature.max - (high - low), feature.max]
    return [low, high]


def _column(feature: FeatureSpec, manifest: Manifest, count: int) -> list[Any]:
    if feature.type == "category":
        assert feature.categories is not None
        return [feature.categories[i % len(feature.categories)] for i in range(count)]
    if feature.type == "bool":
        return [i % 2 == 1 for i in range(count)]
    return _numbers(feature, manifest, np.linspace(0, 1, count))


def _numbers(feature: FeatureSpec, manifest: Manifest, positions: np.ndarray) -> list[Any]:
    """A number feature's values at `positions` (0..1) along its spread, within its bounds."""
    points = _points(feature, manifest)
    spread = np.interp(positions, np.linspace(0, 1, len(points)), points)
    low, high = bounds(feature)
    if feature.type == "int":
        return [int(min(max(round(v), math.ceil(low)), math.floor(high))) for v in spread]
    return [float(min(max(v, low), high)) for v in spread]


def synthetic_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """Rows by wire name that fit the manifest's contract, each value from its own spread.

    Each feature's column is rotated by its position, so a row mixes low and high values
    rather than holding every feature's minimum at once.
    """
    count = max(SYNTHETIC_ROWS, *(len(f.categories or ()) for f in manifest.features))
    columns = [_column(feature, manifest, count) for feature in manifest.features]
    return [
        {
            feature.name: column[(row + shift) % count]
            for shift, (feature, column) in enumerate(zip(manifest.features, columns, strict=True))
        }
        for row in range(count)
    ]


def random_rows(manifest: Manifest, count: int) -> list[dict[str, Any]]:
    """`count` rows drawn at random over each feature's spread (categories, both booleans,
    numbers anywhere between the points the synthetic rows stand on): where a compiled model
    may part from the original between those few values (float32 rounding near a tree's
    split). Seeded: every verification of a bundle draws the same rows."""
    rng = np.random.default_rng(PARITY_SEED)
    columns: list[list[Any]] = []
    for feature in manifest.features:
        if feature.type == "category":
            assert feature.categories is not None
            columns.append(
                [feature.categories[i] for i in rng.integers(0, len(feature.categories), count)]
            )
        elif feature.type == "bool":
            columns.append([bool(v) for v in rng.integers(0, 2, count)])
        else:
            columns.append(_numbers(feature, manifest, rng.uniform(0, 1, count)))
    names = [feature.name for feature in manifest.features]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _instances(schemas: ModelSchemas, rows: list[dict[str, Any]], describe: Describe) -> Any:
    instances = []
    for index, row in enumerate(rows):
        try:  # as JSON, as a request arrives (categories are checked as strings there)
            instances.append(schemas.instance.model_validate_json(json.dumps(row)))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "the row"
            reason = f"{describe(index)} does not fit the model's contract: {where}: {first['msg']}"
            raise BundleError(reason) from None
    return schemas.to_array(instances)


def verification_rows(manifest: Manifest, schemas: ModelSchemas, drawn: int = 0) -> np.ndarray:
    """The synthetic rows, the bundle's examples and `drawn` random rows as one array (rows
    already known to fit the contract): what the compiled runtime is compared on."""
    rows = synthetic_rows(manifest) + [example.inputs for example in manifest.examples]
    rows += random_rows(manifest, drawn)
    array: np.ndarray = _instances(schemas, rows, lambda index: f"verification row {index + 1}")
    return array


def _answer(bundle: Bundle, schemas: ModelSchemas, rows: np.ndarray) -> Answers:
    given = schemas.model_input(rows)
    predictions = np.asarray(bundle.estimator.predict(given)).tolist()
    if not hasattr(bundle.estimator, "predict_proba"):
        return Answers(predictions, None)
    probabilities = np.asarray(bundle.estimator.predict_proba(given), dtype=np.float64)
    return Answers(predictions, probabilities.tolist())


def predict_rows(
    bundle: Bundle, schemas: ModelSchemas, rows: list[dict[str, Any]], describe: Describe
) -> Answers:
    """The model's answers for `rows` (by wire name), predicted together; a row that fails
    the contract, or the first the model fails on alone, refuses the bundle."""
    array = _instances(schemas, rows, describe)
    try:
        return _answer(bundle, schemas, array)
    except MemoryError:
        raise
    except Exception as together:  # whatever the estimator raises, the bundle does not serve
        for index in range(len(rows)):
            try:
                _answer(bundle, schemas, array[index : index + 1])
            except Exception as alone:  # the first row the model fails on alone is named
                raise _failed(describe(index), alone, rows[index]) from alone
        raise _failed(f"{len(rows)} rows together", together) from together


def _failed(what: str, exc: Exception, row: dict[str, Any] | None = None) -> BundleError:
    # The row last: a long one is cut from the reason before the error is.
    shown = f"; the row: {json.dumps(row)}" if row is not None else ""
    return BundleError(f"the model failed on {what}: {type(exc).__name__}: {exc}{shown}")


def check_answers(bundle: Bundle, answers: Answers, count: int, describe: Describe) -> None:
    """One prediction per row, of a sane kind (a label among the model's classes, else a finite
    number), and finite probabilities, one row each."""
    if len(answers.predictions) != count:
        got = len(answers.predictions)
        raise BundleError(f"the model answered {got} predictions for {count} rows")
    classes = getattr(bundle.estimator, "classes_", None)
    known = np.asarray(classes).tolist() if classes is not None else None
    for index, value in enumerate(answers.predictions):
        if known is not None and value not in known:
            raise BundleError(
                f"the model answered {json.dumps(value)} for {describe(index)}, "
                f"which is not among its classes"
            )
        if known is None and not _finite_number(value):
            raise BundleError(
                f"the model answered {value!r} for {describe(index)}, not a finite number"
            )
    if answers.probabilities is not None:
        _check_probabilities(answers.probabilities, known, count, describe)


def _check_probabilities(
    probabilities: list[list[float]], known: list[Any] | None, count: int, describe: Describe
) -> None:
    if len(probabilities) != count:
        raise BundleError(f"the model answered {len(probabilities)} probability rows for {count}")
    for index, row in enumerate(probabilities):
        values = np.ravel(row).tolist()
        if known is not None and len(values) != len(known):
            raise BundleError(
                f"the model answered {len(values)} probabilities for {describe(index)}, "
                f"for {len(known)} classes"
            )
        if not all(math.isfinite(p) for p in values):
            raise BundleError(f"the model's probabilities for {describe(index)} are not finite")


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
