"""Small XGBoost and LightGBM models trained for the flavor tests, their files, and manifests."""

import hashlib
from functools import cache
from typing import Any

import lightgbm
import numpy as np
import xgboost
from sklearn.datasets import load_diabetes, load_iris

from shared_schemas.manifest import FeatureSpec, Manifest

IRIS_CLASSES = ["setosa", "versicolor", "virginica"]


def iris() -> tuple[np.ndarray, np.ndarray]:
    rows, target = load_iris(return_X_y=True)
    return rows, target


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    rows, target = load_diabetes(return_X_y=True)
    return rows, target


def fresh_rows(rows: np.ndarray, count: int = 500, seed: int = 7) -> np.ndarray:
    """Rows drawn uniformly over each feature's training range (not the training rows)."""
    low, high = rows.min(axis=0), rows.max(axis=0)
    return np.random.default_rng(seed).uniform(low, high, size=(count, rows.shape[1]))


@cache  # trained once per test session: the tests only read them
def xgb_classifier(binary: bool = False) -> xgboost.XGBClassifier:
    rows, target = iris()
    if binary:
        target = (target == 2).astype(int)
    return xgboost.XGBClassifier(n_estimators=12, max_depth=3).fit(rows, target)


@cache  # trained once per test session: the tests only read them
def xgb_regressor() -> xgboost.XGBRegressor:
    rows, target = diabetes()
    return xgboost.XGBRegressor(n_estimators=12, max_depth=3).fit(rows, target)


@cache  # trained once per test session: the tests only read them
def lgb_classifier(binary: bool = False) -> lightgbm.LGBMClassifier:
    rows, target = iris()
    labels = np.array(IRIS_CLASSES)[target]
    if binary:
        labels = np.where(target == 2, "yes", "no")
    model = lightgbm.LGBMClassifier(n_estimators=12, num_leaves=7, min_child_samples=5, verbose=-1)
    return model.fit(rows, labels)


@cache  # trained once per test session: the tests only read them
def lgb_regressor() -> lightgbm.LGBMRegressor:
    rows, target = diabetes()
    model = lightgbm.LGBMRegressor(n_estimators=12, num_leaves=7, verbose=-1)
    return model.fit(rows, target)


def xgb_bytes(model: Any, raw_format: str = "ubj") -> bytes:
    return bytes(model.get_booster().save_raw(raw_format))


def lgb_bytes(model: Any) -> bytes:
    text: str = model.booster_.model_to_string()
    return text.encode()


def manifest(
    flavor: str,
    data: bytes,
    features: int,
    classes: list[Any] | None,
    model_file: str | None = None,
    **changes: Any,
) -> Manifest:
    """A manifest for a model file of `features` numbers (and `classes`, for a classifier)."""
    default = "model.ubj" if flavor == "xgboost" else "model.txt"
    body: dict[str, Any] = {
        "name": "boosted",
        "version": "1",
        "task": "classification" if classes is not None else "regression",
        "features": [FeatureSpec(name=f"x{i}", type="float") for i in range(features)],
        "classes": classes,
        "flavor": flavor,
        "model_file": model_file or default,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return Manifest.model_validate(body | changes)
