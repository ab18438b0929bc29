"""servir.save_model saves XGBoost and LightGBM models in their own formats (model.ubj,
model.txt; never pickle) with the same manifest as a scikit-learn model's, and the
model-service's XGBoost/LightGBM loader (model_service.flavors) with its typed contract and
examples check serves them as the model answers in memory."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.datasets import load_diabetes, load_iris

from model_service.flavors import load_model
from model_service.models.bundles import Bundle
from model_service.models.examples import check_predictions
from servir import BundleError
from servir.bundle import save_model
from shared_schemas.manifest import Manifest


def iris_frame() -> tuple[pd.DataFrame, np.ndarray]:
    frame, target = load_iris(return_X_y=True, as_frame=True)
    return frame, np.asarray(target)


def served(folder: Path) -> tuple[Manifest, Any]:
    """The bundle loaded as the service loads these flavors, its examples checked."""
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_bytes())
    data = (folder / manifest.model_file).read_bytes()
    assert hashlib.sha256(data).hexdigest() == manifest.sha256
    estimator = load_model(manifest, data)
    check_predictions(Bundle(manifest=manifest, estimator=estimator, folder=folder), 1e-6)
    return manifest, estimator


def test_an_xgboost_classifier_fitted_on_a_dataframe_round_trips(tmp_path: Path) -> None:
    frame, target = iris_frame()
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(frame, target)
    folder = save_model(model, tmp_path / "iris" / "1", sample=frame.head(30), name="iris")
    manifest, estimator = served(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.ubj"]
    assert (manifest.flavor, manifest.model_file, manifest.trusted_types) == (
        "xgboost",
        "model.ubj",
        [],
    )
    assert manifest.input_format == "ndarray"
    assert manifest.classes == [0, 1, 2]
    assert manifest.features[0].column == "sepal length (cm)"
    assert manifest.reference is not None
    assert manifest.training_stats is not None
    assert len(manifest.examples) == 5
    assert manifest.examples[0].probabilities is not None
    rows = frame.to_numpy()
    assert estimator.predict(rows).tolist() == model.predict(frame).tolist()


def test_a_lightgbm_classifier_with_text_labels_round_trips(tmp_path: Path) -> None:
    frame, target = iris_frame()
    labels = np.array(["setosa", "versicolor", "virginica"])[target]
    model = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(frame, labels)
    folder = save_model(model, tmp_path / "iris" / "1", sample=frame, name="iris", examples=20)
    manifest, estimator = served(folder)
    assert (manifest.flavor, manifest.model_file) == ("lightgbm", "model.txt")
    assert manifest.classes == ["setosa", "versicolor", "virginica"]
    assert [e.prediction for e in manifest.examples[:3]] == ["setosa"] * 3
    assert estimator.predict(frame.to_numpy()).tolist() == np.asarray(model.predict(frame)).tolist()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_regressor_on_an_array_round_trips(library: str, tmp_path: Path) -> None:
    rows, target = load_diabetes(return_X_y=True)
    model: Any = (
        xgboost.XGBRegressor(n_estimators=10)
        if library == "xgboost"
        else lightgbm.LGBMRegressor(n_estimators=10, verbose=-1)
    )
    model.fit(rows, target)
    folder = save_model(model, tmp_path / "sugar" / "1", sample=rows[:50], name="sugar")
    manifest, estimator = served(folder)
    assert manifest.task == "regression"
    assert manifest.classes is None
    assert [f.name for f in manifest.features][:2] == ["x0", "x1"]
    assert np.allclose(estimator.predict(rows), model.predict(rows), rtol=0, atol=1e-9)


def test_a_binary_xgboost_classifier_records_both_probabilities(tmp_path: Path) -> None:
    frame, target = iris_frame()
    model = xgboost.XGBClassifier(n_estimators=5).fit(frame.to_numpy(), target == 2)
    folder = save_model(
        model, tmp_path / "virginica" / "1", sample=frame.to_numpy(), name="virginica"
    )
    manifest, _ = served(folder)
    assert manifest.classes == [0, 1]
    assert all(len(e.probabilities or []) == 2 for e in manifest.examples)


def test_a_skops_bundle_is_replaced_by_a_boosted_one_without_leftovers(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    frame, target = iris_frame()
    target_folder = tmp_path / "iris" / "1"
    save_model(
        LogisticRegression(max_iter=500).fit(frame, target),
        target_folder,
        sample=frame,
        name="iris",
    )
    boosted = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(frame, target)
    save_model(boosted, target_folder, sample=frame, name="iris", overwrite=True)
    assert sorted(p.name for p in target_folder.iterdir()) == ["manifest.json", "model.txt"]


def test_what_these_flavors_cannot_carry_is_refused(tmp_path: Path) -> None:
    frame, target = iris_frame()
    raw = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3}, xgboost.DMatrix(frame, target), 2
    )
    with pytest.raises(BundleError, match="a xgboost Booster cannot be saved; save one of its"):
        save_model(raw, tmp_path / "a" / "1", sample=frame, name="a")
    colours = frame.assign(colour=np.where(target == 0, "red", "blue")).astype(
        {"colour": "category"}
    )
    model = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(colours, target)
    with pytest.raises(BundleError, match="category columns are not supported yet: 'colour'"):
        save_model(model, tmp_path / "b" / "1", sample=colours, name="b")
    model = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(frame, target)
    renamed = frame.set_axis([f"c{i}" for i in range(4)], axis="columns")
    with pytest.raises(BundleError, match="are not the ones the model was fitted on"):
        save_model(model, tmp_path / "c" / "1", sample=renamed, name="c")
    assert not any(tmp_path.rglob("manifest.json"))


def test_saving_a_scikit_learn_model_imports_neither_library(tmp_path: Path) -> None:
    code = f"""
import sys
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from servir.bundle import save_model
rows, target = load_iris(return_X_y=True)
save_model(LogisticRegression(max_iter=500).fit(rows, target), {str(tmp_path / "m" / "1")!r},
           sample=rows, name="m")
print(sorted({{"xgboost", "lightgbm"}} & set(sys.modules)))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().replace("'", '"')) == []
