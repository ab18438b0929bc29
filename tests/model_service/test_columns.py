"""The fast check of valid rows (formats/columns.py) agrees with the per-row schema.

Whatever the fast check accepts, the model's Pydantic schema accepts too, into the very same
array (dtype, values, and the Python types of a category model's object array); whatever the
schema refuses, the fast check refuses (the caller then validates row by row for the errors).
"""

import json
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from model_service.models.schemas import FLOAT32_MAX, ModelSchemas, build_schemas
from shared_schemas.manifest import Manifest

MIXED: list[dict[str, Any]] = [
    {"name": "ratio", "type": "float"},
    {"name": "age", "type": "int", "min": 0, "max": 120},
    {"name": "score", "type": "float", "min": -1.5, "max": 2.5},
    {"name": "member", "type": "bool"},
    {"name": "kind", "type": "category", "categories": ["", "a", "mro", "Gato"]},
]
NUMBERS: list[dict[str, Any]] = [
    {"name": "x", "type": "float"},
    {"name": "n", "type": "int"},
    {"name": "y", "type": "float", "min": 0, "max": 1},
]
ONE: list[dict[str, Any]] = [{"name": "x", "type": "float", "min": 0}]
GOOD_ONE = {"x": 1.5}
GOOD_MIXED = {"ratio": 1, "age": 30, "score": -1.5, "member": True, "kind": "Gato"}
GOOD_NUMBERS = {"x": -0.0, "n": 7, "y": 1}


def schemas_of(features: list[dict[str, Any]], max_rows: int = 5) -> ModelSchemas:
    manifest = Manifest.model_validate(
        {
            "name": "some-model",
            "version": "1",
            "task": "classification",
            "sha256": "0" * 64,
            "features": features,
        }
    )
    return build_schemas(manifest, max_rows=max_rows)


def changed(row: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {**row, **values}


def bodies(good: dict[str, Any]) -> list[Any]:
    """Valid and invalid request bodies around one valid row."""
    name = next(iter(good))
    cells = [
        True, False, None, "1", 1, 0, 3.0, 3.5, -1, 2.5, 2.6, 1e38, 3.5e38, -3.5e38, 2**63,
        2**80, 10**400, "", "a", "b", "Gato", "gato", [1], {"a": 1},
    ]  # fmt: skip
    found: list[Any] = [
        {"instances": [good]},
        {"instances": [good] * 5},
        {"instances": [good] * 6},
        {"instances": []},
        {"instances": [good], "return_probabilities": True},
        {"instances": [good], "return_probabilities": 1},
        {"instances": [good], "other": 1},
        {"instances": [changed(good, extra=1)]},
        {"instances": [{k: v for k, v in good.items() if k != name}]},
        {"instances": good},
        {"return_probabilities": False},
        [good],
    ]
    for feature in good:
        found.extend({"instances": [good, changed(good, **{feature: c})]} for c in cells)
    return found


def outcome(schemas: ModelSchemas, body: Any) -> tuple[np.ndarray, bool] | None:
    """The schema's validation and `to_array`, or None when it refuses."""
    try:
        request: Any = schemas.request.model_validate_json(json.dumps(body))
    except ValidationError:
        return None
    return schemas.to_array(request.instances), request.return_probabilities


def assert_same(fast: tuple[np.ndarray, bool], slow: tuple[np.ndarray, bool]) -> None:
    assert fast[1] == slow[1]
    assert fast[0].dtype == slow[0].dtype
    assert fast[0].shape == slow[0].shape
    assert fast[0].tolist() == slow[0].tolist()
    assert [type(v) for v in fast[0].ravel()] == [type(v) for v in slow[0].ravel()]


@pytest.mark.parametrize(
    ("features", "good"), [(MIXED, GOOD_MIXED), (NUMBERS, GOOD_NUMBERS), (ONE, GOOD_ONE)]
)
def test_the_fast_check_accepts_only_what_the_schema_accepts_into_the_same_array(
    features: list[dict[str, Any]], good: dict[str, Any]
) -> None:
    schemas = schemas_of(features)
    for body in bodies(good):
        slow = outcome(schemas, body)
        fast = schemas.columns.decode(json.dumps(body).encode())
        if fast is None:
            continue
        assert slow is not None, body
        assert_same(fast, slow)
        rows, proba = body["instances"], body.get("return_probabilities", False)
        converted = schemas.columns.convert(rows, proba)
        assert converted is not None
        assert_same(converted, slow)


@pytest.mark.parametrize(
    ("features", "good"), [(MIXED, GOOD_MIXED), (NUMBERS, GOOD_NUMBERS), (ONE, GOOD_ONE)]
)
def test_valid_rows_take_the_fast_check(
    features: list[dict[str, Any]], good: dict[str, Any]
) -> None:
    schemas = schemas_of(features)
    for body in [{"instances": [good] * 5}, {"instances": [good], "return_probabilities": True}]:
        fast = schemas.columns.decode(json.dumps(body).encode())
        assert fast is not None
        slow = outcome(schemas, body)
        assert slow is not None
        assert_same(fast, slow)


def test_unbounded_numbers_stop_at_float32s_range() -> None:
    schemas = schemas_of(NUMBERS)
    body = {"instances": [changed(GOOD_NUMBERS, x=FLOAT32_MAX)]}
    assert schemas.columns.decode(json.dumps(body).encode()) is not None
    body = {"instances": [changed(GOOD_NUMBERS, x=3.5e38)]}
    assert schemas.columns.decode(json.dumps(body).encode()) is None
