"""The random rows a compiled model must also agree on (canary.random_rows): drawn over each
feature's spread, within the contract, the same on every verification, and part of the pass's
key (a store verified with fewer rows is verified again)."""

import json

import numpy as np
import pytest

from model_service.config import Settings
from model_service.models.canary import random_rows, verification_rows
from model_service.models.schemas import build_schemas
from model_service.models.verify import verdict_key
from shared_schemas.manifest import Manifest

MANIFEST = Manifest.model_validate(
    {
        "name": "pets",
        "version": "1",
        "task": "classification",
        "sha256": "0" * 64,
        "features": [
            {"name": "weight", "type": "float", "min": 0.5, "max": 80.0},
            {"name": "year", "type": "int", "min": 2000, "max": 2025},
            {"name": "kind", "type": "category", "categories": ["cat", "dog", "fish"]},
            {"name": "indoor", "type": "bool"},
            {"name": "score", "type": "float"},
        ],
        "training_stats": {"score": {"mean": 0.0, "std": 1.0, "min": -3.0, "max": 250.0}},
    }
)


def test_random_rows_fit_the_contract_and_cover_each_spread() -> None:
    rows = random_rows(MANIFEST, 2000)
    assert len(rows) == 2000
    schemas = build_schemas(MANIFEST, max_rows=1)
    for row in rows[:200]:  # each validates as a request's row does
        schemas.instance.model_validate_json(json.dumps(row))
    weights = np.array([row["weight"] for row in rows])
    assert 0.5 <= weights.min() < 5
    assert 75 < weights.max() <= 80.0
    assert len({row["weight"] for row in rows}) > 1900  # anywhere, not only on a few points
    years = {row["year"] for row in rows}
    assert years == set(range(2000, 2026))  # every whole value within the bounds is met
    assert {row["kind"] for row in rows} == {"cat", "dog", "fish"}
    assert {row["indoor"] for row in rows} == {True, False}
    scores = np.array([row["score"] for row in rows])
    assert -3.0 <= scores.min() < 10
    assert 200 < scores.max() <= 250.0


def test_every_verification_draws_the_same_rows() -> None:
    assert random_rows(MANIFEST, 50) == random_rows(MANIFEST, 50)


def test_the_compiled_model_is_compared_on_the_drawn_rows_too() -> None:
    schemas = build_schemas(MANIFEST, max_rows=1)
    few, many = verification_rows(MANIFEST, schemas), verification_rows(MANIFEST, schemas, 500)
    assert len(many) == len(few) + 500


@pytest.mark.parametrize("rows", [0, 500])
def test_the_number_of_rows_is_part_of_the_pass(rows: int) -> None:
    default = verdict_key("a" * 64, Settings())
    assert (verdict_key("a" * 64, Settings(runtime_parity_rows=rows)) == default) is (rows == 2000)
