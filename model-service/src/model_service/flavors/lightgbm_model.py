"""LightGBM bundles: model.txt, checked in Python (lightgbm_text.py), then loaded by LightGBM
from the text written anew from what was checked."""

from typing import Any

import numpy as np

from model_service.flavors.contract import check_model
from model_service.flavors.lightgbm_text import read_text
from model_service.flavors.model import BoostedClassifier, BoostedModel, BoostedRegressor
from model_service.models import bundles
from shared_schemas.manifest import Manifest

CLASSIFIERS = frozenset({"binary", "multiclass", "multiclassova"})
REGRESSORS = frozenset(
    {
        "regression",
        "regression_l1",
        "huber",
        "fair",
        "poisson",
        "quantile",
        "mape",
        "gamma",
        "tweedie",
        "cross_entropy",
        "cross_entropy_lambda",
    }
)


def load_lightgbm(manifest: Manifest, data: bytes, threads: int) -> BoostedModel:
    """The bundle's LightGBM model, checked against its manifest; BundleError says why not."""
    model = read_text(data)
    objective = model.objective
    if objective in CLASSIFIERS:
        classes = 2 if objective == "binary" else model.classes
        check_model(
            manifest,
            objective=objective,
            task="classification",
            classes=classes,
            features=model.features,
        )
    elif objective in REGRESSORS:
        check_model(
            manifest, objective=objective, task="regression", classes=0, features=model.features
        )
    else:
        raise bundles.BundleError(
            f"the objective {objective} is not supported (classification: "
            f"{', '.join(sorted(CLASSIFIERS))}; or a regression)"
        )
    import lightgbm  # noqa: PLC0415 - only a bundle of this flavor pays for the import

    try:
        booster = lightgbm.Booster(model_str=model.text())
    except lightgbm.basic.LightGBMError as exc:
        raise bundles.BundleError(f"LightGBM cannot load model.txt: {exc}"[:300]) from None
    scores = _scores(booster, threads)
    if objective in CLASSIFIERS:
        classes_ = list(manifest.classes or [])
        return BoostedClassifier("lightgbm", booster, scores, model.features, classes_)
    return BoostedRegressor("lightgbm", booster, scores, model.features)


def _scores(booster: Any, threads: int) -> Any:
    def scores(rows: np.ndarray) -> np.ndarray:
        return np.asarray(booster.predict(rows, num_threads=threads))

    return scores
