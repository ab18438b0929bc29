"""XGBoost bundles: model.json or model.ubj, read by XGBoost into a Booster, then checked.

XGBoost's loader checks the sizes of a tree's arrays but not where they point: a child index
outside the tree crashes the first prediction (a segfault, seen with a crafted file). The
booster is written back as JSON (its state as loaded, not the file's text) and every tree is
checked before anything predicts with it.
"""

import json
from typing import Any

import numpy as np

from model_service.flavors.contract import check_model
from model_service.flavors.model import BoostedClassifier, BoostedModel, BoostedRegressor
from model_service.flavors.trees import check_children, check_features
from model_service.models import bundles
from shared_schemas.manifest import Manifest, Task

CLASSIFIERS = frozenset({"binary:logistic", "multi:softprob"})
REGRESSORS = frozenset(
    {
        "reg:squarederror",
        "reg:linear",
        "reg:squaredlogerror",
        "reg:pseudohubererror",
        "reg:absoluteerror",
        "reg:quantileerror",
        "reg:logistic",
        "reg:gamma",
        "reg:tweedie",
        "count:poisson",
    }
)
TREE_BOOSTERS = frozenset({"gbtree", "dart"})


def load_xgboost(manifest: Manifest, data: bytes, threads: int) -> BoostedModel:
    """The bundle's XGBoost model, checked against its manifest; BundleError says why not."""
    import xgboost  # noqa: PLC0415 - only a bundle of this flavor pays for the import

    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgboost.core.XGBoostError as exc:
        reason = str(exc).split("\n")[0][:200]
        raise bundles.BundleError(
            f"{manifest.model_file} is not an XGBoost model: {reason}"
        ) from None
    try:
        learner = json.loads(bytes(booster.save_raw("json")))["learner"]
        objective, task, classes, features = _describe(learner)
        check_model(manifest, objective=objective, task=task, classes=classes, features=features)
        _check_trees(learner, features, max(classes, 1) if task == "classification" else 1)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise bundles.BundleError(
            f"{manifest.model_file} is not an XGBoost model Servir can serve: "
            f"{type(exc).__name__} {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        ) from None
    booster.set_param({"nthread": threads})
    scores = _scores(booster)
    if task == "classification":
        return BoostedClassifier("xgboost", booster, scores, features, list(manifest.classes or []))
    return BoostedRegressor("xgboost", booster, scores, features)


def _describe(learner: dict[str, Any]) -> tuple[str, Task, int, int]:
    """The objective, the task it serves, the number of classes and of features."""
    objective = str(learner["objective"]["name"])
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) != 1:
        raise bundles.BundleError("a model with several targets is not supported")
    features = int(params["num_feature"])
    if objective in CLASSIFIERS:
        classes = int(params["num_class"])
        return (
            objective,
            "classification",
            2 if objective == "binary:logistic" else classes,
            features,
        )
    if objective in REGRESSORS:
        return objective, "regression", 0, features
    raise bundles.BundleError(
        f"the objective {objective} is not supported (classification: "
        f"{', '.join(sorted(CLASSIFIERS))}; or a regression)"
    )


def _check_trees(learner: dict[str, Any], features: int, groups: int) -> None:
    booster = learner["gradient_booster"]
    if booster["name"] not in TREE_BOOSTERS:
        raise bundles.BundleError(f"the booster {booster['name']} is not supported (gbtree, dart)")
    if any(kind != "float" for kind in learner.get("feature_types") or []):
        raise bundles.BundleError("categorical features are not supported yet")
    model = booster["gbtree"]["model"] if booster["name"] == "dart" else booster["model"]
    trees = model["trees"]
    # Each tree adds to one output (its class): an output beyond them is written outside.
    info = np.asarray(model["tree_info"], dtype=np.int64)
    if len(info) != len(trees) or (info.size and (info.min() < 0 or info.max() >= groups)):
        raise bundles.BundleError("the trees' outputs (tree_info) do not match the model's classes")
    for index, tree in enumerate(trees):
        _check_tree(tree, features, f"tree {index}")


def _check_tree(tree: dict[str, Any], features: int, where: str) -> None:
    nodes = int(tree["tree_param"]["num_nodes"])
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise bundles.BundleError(f"{where}: vector leaves are not supported")
    left, right, split = (
        np.asarray(tree[key], dtype=np.int64)
        for key in ("left_children", "right_children", "split_indices")
    )
    if not nodes or any(len(array) != nodes for array in (left, right, split)):
        raise bundles.BundleError(f"{where}: its arrays do not hold num_nodes entries")
    if np.asarray(tree.get("split_type") or [0], dtype=np.int64).any():
        raise bundles.BundleError(f"{where}: categorical splits are not supported yet")
    inner = left != -1
    if (right[~inner] != -1).any():
        raise bundles.BundleError(f"{where}: a node has one branch")
    check_children(np.concatenate([left[inner], right[inner]]), nodes, where)
    check_features(split[inner], features, where)


def _scores(booster: Any) -> Any:
    # An early-stopped model predicts with the trees up to its best iteration, as
    # XGBClassifier and XGBRegressor do.
    best = booster.attr("best_iteration")
    rounds = (0, int(best) + 1) if best is not None else (0, 0)

    def scores(rows: np.ndarray) -> np.ndarray:
        return np.asarray(
            booster.inplace_predict(rows, iteration_range=rounds, validate_features=False)
        )

    return scores
