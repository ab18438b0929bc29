"""Bundles are verified by their own examples and by synthetic rows drawn from their manifest,
in the real verifying child, before they serve (issue 13, item 3)."""

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_service.config import Settings
from model_service.demo_models import write_bundle
from model_service.models.canary import synthetic_rows
from model_service.models.verify import verify_bundles
from shared_schemas.manifest import Manifest
from tests.model_service.test_repository import (
    bundle_archive,
    no_unloaded_flags,
    store_listing,
    upload,
)

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags"]  # the autouse fixture applies here too
IRIS_NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# The manifest's order of the iris features, with sepal_length and petal_width exchanged.
SWAPPED = [3, 1, 2, 0]


def _example(inputs: dict[str, Any], prediction: Any, probabilities: Any = None) -> dict[str, Any]:
    return {"inputs": inputs, "prediction": prediction, "probabilities": probabilities}


def swapped_iris(store: Path) -> tuple[Path, str]:
    """Iris fitted in its true order, whose manifest lists the features with sepal_length and
    petal_width exchanged, its examples recorded with the true order: the folder, and the
    reason it must be refused for."""
    data = load_iris()
    labels = np.array(data.target_names)[data.target]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        data.data, labels
    )
    # The service hands the model the columns in the manifest's order: as here.
    wrong = model.predict(data.data[:, SWAPPED])
    right = model.predict(data.data)
    agreeing = int(np.flatnonzero(wrong == right)[0])
    differing = int(np.flatnonzero(wrong != right)[0])
    examples = [
        _example(dict(zip(IRIS_NAMES, data.data[row].tolist(), strict=True)), str(right[row]))
        for row in (agreeing, differing)
    ]
    features = [
        {"name": IRIS_NAMES[column], "type": "float", "min": 0.0, "max": 100.0}
        for column in SWAPPED
    ]
    manifest = {"task": "classification", "features": features, "examples": examples}
    folder = write_bundle(store, name="iris-swapped", estimator=model, manifest=manifest)
    reason = (
        f'example 2 differs: the model answered "{wrong[differing]}", '
        f'the bundle recorded "{right[differing]}"'
    )
    return folder, reason


async def test_an_upload_whose_features_are_swapped_is_refused_naming_the_example(
    models: httpx.AsyncClient, store: Path, tmp_path: Path
) -> None:
    folder, reason = swapped_iris(tmp_path / "made")
    files = {path.name: path.read_bytes() for path in folder.iterdir()}
    before = store_listing(store)
    response = await upload(models, bundle_archive(files))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"The bundle cannot load: {reason}."
    assert store_listing(store) == before


X = [[0.0], [1.0], [2.0], [3.0]]
LINE = LinearRegression().fit(X, [1.0, 3.0, 5.0, 7.0])
ANSWER = float(LINE.predict([[1.5]])[0])
REGRESSION = {"task": "regression", "features": [{"name": "x", "type": "float"}]}


def regression_bundle(store: Path, name: str, recorded: float) -> Path:
    """The line 2x + 1, whose example at x = 1.5 records `recorded`."""
    manifest = {**REGRESSION, "examples": [_example({"x": 1.5}, recorded)]}
    return write_bundle(store, name=name, estimator=LINE, manifest=manifest)


def unknown_category_bundle(store: Path) -> Path:
    """An encoder fitted on a and b whose manifest promises c too, and records no examples:
    the synthetic rows reach c, which the model refuses."""
    colours = np.array([["a"], ["b"], ["a"], ["b"]], dtype=object)
    model = make_pipeline(OneHotEncoder(handle_unknown="error"), LogisticRegression())
    model.fit(colours, ["no", "yes", "no", "yes"])
    colour = {"name": "colour", "type": "category", "categories": ["a", "b", "c"]}
    manifest = {"task": "classification", "features": [colour]}
    return write_bundle(store, name="colours", estimator=model, manifest=manifest)


def frame_bundle(store: Path) -> Path:
    """A pipeline fitted on a DataFrame (columns selected by name, one not a valid field name),
    with examples: served as fitted, it answers them as recorded."""
    frame = pd.DataFrame(
        {"especie": ["Gato", "Perro", "Gato", "Perro"], "peso kg": [4.0, 30.0, 5.0, 25.0]}
    )
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(), ["especie"]), ("num", StandardScaler(), ["peso kg"])]
    )
    model = make_pipeline(encode, LogisticRegression()).fit(frame, ["no", "si", "no", "si"])
    probabilities = model.predict_proba(frame).tolist()
    examples = [
        _example({"especie": row["especie"], "peso_kg": row["peso kg"]}, label, probability)
        for (_, row), label, probability in zip(
            frame.iterrows(), model.predict(frame).tolist(), probabilities, strict=True
        )
    ]
    features = [
        {"name": "especie", "type": "category", "categories": ["Gato", "Perro"]},
        {"name": "peso_kg", "column": "peso kg", "type": "float", "min": 0.0},
    ]
    manifest = {
        "task": "classification",
        "input_format": "dataframe",
        "features": features,
        "examples": examples,
    }
    return write_bundle(store, name="mascotas", estimator=model, manifest=manifest)


def test_examples_and_synthetic_rows_decide_in_the_child(tmp_path: Path) -> None:
    store = tmp_path / "models"
    far = regression_bundle(store, "far", ANSWER + 1e-3)
    near = regression_bundle(store, "near", ANSWER + 1e-7)
    examples = [_example({"x": 1.0}, 3.0), _example({"x": "seven"}, 1.0)]
    unfit = write_bundle(
        store, name="unfit", estimator=LINE, manifest={**REGRESSION, "examples": examples}
    )
    colours, frame = unknown_category_bundle(store), frame_bundle(store)
    reasons = verify_bundles([far, near, unfit, colours, frame], Settings(models_dir=store))
    assert reasons == {
        far: (
            f"example 1 differs: the model answered {json.dumps(ANSWER)}, "
            f"the bundle recorded {json.dumps(ANSWER + 1e-3)}"
        ),
        near: None,
        unfit: "example 2 does not fit the model's contract: x: Input should be a valid number",
        colours: (
            "the model failed on synthetic row 3 of 8: ValueError: Found unknown categories "
            """['c'] in column 0 during transform; the row: {"colour": "c"}"""
        ),
        frame: None,
    }
    # MODEL_EXAMPLE_TOLERANCE decides how far is too far (and keys the recorded pass).
    assert verify_bundles([far], Settings(models_dir=store, example_tolerance=1e-2)) == {far: None}


def test_synthetic_rows_cover_every_category_and_spread_numbers_inside_their_bounds() -> None:
    colours = [f"c{i}" for i in range(10)]
    manifest = Manifest.model_validate(
        {
            "name": "spread",
            "version": "1",
            "task": "regression",
            "sha256": "0" * 64,
            "features": [
                {"name": "bounded", "type": "float", "min": 10.0, "max": 20.0},
                {"name": "deciles", "type": "float", "min": 0.0},
                {"name": "trained", "type": "int", "max": 50},
                {"name": "free", "type": "float"},
                {"name": "flag", "type": "bool"},
                {"name": "colour", "type": "category", "categories": colours},
            ],
            "reference": {"deciles": {"edges": [-5.0, 1.0, 3.0], "proportions": [0.5, 0.5]}},
            "training_stats": {"trained": {"min": 40.0, "max": 90.0}},
        }
    )
    rows = synthetic_rows(manifest)
    column = {name: [row[name] for row in rows] for name in rows[0]}
    assert len(rows) == len(colours)  # more categories than SYNTHETIC_ROWS: one row each
    assert sorted(column["colour"]) == sorted(colours)
    assert min(column["bounded"]) == 10.0
    assert max(column["bounded"]) == 20.0
    assert min(column["deciles"]) == 0.0  # the reference's -5 edge, inside the hard bound
    assert max(column["deciles"]) == 3.0
    assert all(isinstance(value, int) for value in column["trained"])
    assert (min(column["trained"]), max(column["trained"])) == (40, 50)
    assert (min(column["free"]), max(column["free"])) == (-1.0, 1.0)
    assert set(column["flag"]) == {True, False}
    assert len({tuple(row.values()) for row in rows}) == len(rows)
