"""One structural check per estimator family (see validation.VALIDATED_TYPES).

Each raises StructureError (a ValueError) naming what is inconsistent. The tree check is the
one that matters for safety: scikit-learn's compiled tree code trusts child and feature indices
without bounds checks, so they are proved in range, and children point forward (a larger node
index), which also proves every walk from the root ends at a leaf.
"""

from typing import Any

import numpy as np

TREE_LEAF = -1
SCALER_ARRAYS = (
    "mean_",
    "var_",
    "scale_",
    "min_",
    "data_min_",
    "data_max_",
    "data_range_",
    "max_abs_",
    "center_",
)


class StructureError(ValueError):
    """The estimator's contents are inconsistent, or it holds a type nobody vouches for."""


def require(condition: bool, reason: str) -> None:
    """Raise StructureError(reason) unless `condition`."""
    if not condition:
        raise StructureError(reason)


def n_features(estimator: Any) -> int:
    """The estimator's `n_features_in_`, proved a positive int."""
    count = getattr(estimator, "n_features_in_", None)
    require(isinstance(count, int | np.integer) and bool(count >= 1), "n_features_in_ is missing")
    return int(count)  # type: ignore[arg-type]


def check_tree(tree: Any) -> None:
    """sklearn.tree._tree.Tree: node links, features, thresholds and values."""
    state = tree.__getstate__()
    nodes, values, count = state["nodes"], state["values"], int(state["node_count"])
    outputs, max_classes = int(tree.n_outputs), int(tree.max_n_classes)
    classes = np.asarray(tree.n_classes)
    require(count >= 1 and nodes.shape == (count,), "a tree's node_count does not match its nodes")
    require(int(tree.n_features) >= 1 and outputs >= 1, "a tree has no features or outputs")
    require(
        classes.shape == (outputs,) and bool(((classes >= 1) & (classes <= max_classes)).all()),
        "a tree's n_classes does not match its outputs",
    )
    require(
        values.shape == (count, outputs, max_classes), "a tree's value array has the wrong shape"
    )
    require(bool(np.isfinite(values).all()), "a tree holds a value that is not finite")
    _check_links(nodes, int(tree.n_features))


def _check_links(nodes: np.ndarray, features: int) -> None:
    left, right = nodes["left_child"], nodes["right_child"]
    index = np.arange(len(nodes))
    leaf = left == TREE_LEAF
    require(bool(np.array_equal(leaf, right == TREE_LEAF)), "a tree node has only one child")
    split = ~leaf
    for child in (left[split], right[split]):
        forward = (child > index[split]) & (child < len(nodes))
        require(bool(forward.all()), "a tree node points backwards or outside the tree")
    feature = nodes["feature"][split]
    require(bool(((feature >= 0) & (feature < features)).all()), "a tree splits on no feature")
    require(bool(np.isfinite(nodes["threshold"][split]).all()), "a tree threshold is not finite")


def check_tree_estimator(estimator: Any) -> None:
    """DecisionTree*/ExtraTree*: the tree matches the estimator's features, outputs, classes."""
    tree = estimator.tree_
    require(int(tree.n_features) == n_features(estimator), "the tree's n_features differs")
    require(int(tree.n_outputs) == int(estimator.n_outputs_), "the tree's n_outputs differs")
    if hasattr(estimator, "classes_"):
        expected = np.atleast_1d(np.asarray(estimator.n_classes_))
        require(
            np.array_equal(np.asarray(tree.n_classes), expected), "the tree's n_classes differs"
        )


def check_forest(forest: Any) -> None:
    """RandomForest*/ExtraTrees*: every tree takes the forest's features."""
    trees = forest.estimators_
    require(isinstance(trees, list) and len(trees) >= 1, "a forest has no trees")
    expected = n_features(forest)
    for tree in trees:
        require(n_features(tree) == expected, "a forest's tree takes other features")


def check_gradient_boosting(model: Any) -> None:
    """GradientBoosting*: a (stages, K) grid of one-output regression trees over the features."""
    stages, expected = model.estimators_, n_features(model)
    width = int(model.n_trees_per_iteration_)
    if hasattr(model, "classes_"):
        classes = len(model.classes_)
        require(width == (1 if classes == 2 else classes), "n_trees_per_iteration_ is wrong")
    else:
        require(width == 1, "a regressor has more than one tree per stage")
    require(
        isinstance(stages, np.ndarray) and stages.ndim == 2 and stages.shape[1] == width,
        "the stages grid has the wrong shape",
    )
    require(stages.shape[0] >= 1, "a gradient boosting model has no stages")
    for tree in stages.ravel():
        require(n_features(tree) == expected, "a stage's tree takes other features")
        require(int(tree.tree_.n_outputs) == 1, "a stage's tree has more than one output")
        require(int(tree.tree_.max_n_classes) == 1, "a stage's tree is not a regression tree")
    require(model.init_ == "zero" or hasattr(model.init_, "predict"), "init_ cannot predict")


def check_dummy(model: Any) -> None:
    """DummyClassifier/DummyRegressor: the priors or constant match the classes or outputs."""
    if hasattr(model, "classes_"):
        prior = np.asarray(model.class_prior_)
        require(prior.shape == np.asarray(model.classes_).shape, "class_prior_ has the wrong shape")
    else:
        constant = np.asarray(model.constant_)
        require(constant.shape == (1, int(model.n_outputs_)), "constant_ has the wrong shape")


def check_linear(model: Any) -> None:
    """Linear models: coef_ and intercept_ shapes against the features and classes."""
    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    features = n_features(model)
    require(coef.dtype.kind == "f" and bool(np.isfinite(coef).all()), "coef_ is not finite")
    require(bool(np.isfinite(intercept).all()), "intercept_ is not finite")
    if hasattr(model, "classes_"):
        classes = len(model.classes_)
        rows = 1 if classes == 2 else classes
        require(classes >= 2, "a classifier has fewer than two classes")
        require(coef.shape == (rows, features), "coef_ does not match the features and classes")
        require(intercept.shape == (rows,), "intercept_ does not match the classes")
    elif coef.ndim == 1:
        require(coef.shape == (features,), "coef_ does not match the features")
        require(intercept.size == 1, "intercept_ does not match the outputs")
    else:
        require(coef.ndim == 2 and coef.shape[1] == features, "coef_ does not match the features")
        require(intercept.shape == (coef.shape[0],), "intercept_ does not match the outputs")


def check_neighbors(model: Any) -> None:
    """k-NN, brute force only (a KD or ball tree is a native node array no check here reads):
    the fitted rows, their labels and k."""
    brute = getattr(model, "_fit_method", None) == "brute" and model._tree is None
    require(brute, "only brute-force neighbours are validated (algorithm='brute')")
    rows = np.asarray(model._fit_X)
    require(rows.ndim == 2 and rows.shape[1] == n_features(model), "_fit_X has the wrong shape")
    require(rows.dtype.kind == "f" and bool(np.isfinite(rows).all()), "_fit_X is not finite")
    k = model.n_neighbors
    require(isinstance(k, int) and 1 <= k <= rows.shape[0], "n_neighbors is out of range")
    plain = isinstance(model.effective_metric_, str) and model.weights in ("uniform", "distance")
    require(plain, "the metric or the weights are not named ones")
    labels = np.asarray(model._y)
    require(labels.ndim in (1, 2) and labels.shape[0] == rows.shape[0], "_y does not match _fit_X")
    if hasattr(model, "classes_"):
        _check_neighbor_classes(model, labels.reshape(rows.shape[0], -1))
    else:
        require(labels.dtype.kind == "f" and bool(np.isfinite(labels).all()), "_y is not finite")


def _check_neighbor_classes(model: Any, columns: np.ndarray) -> None:
    classes = model.classes_ if model.outputs_2d_ else [model.classes_]
    require(columns.shape[1] == len(classes), "_y does not match the outputs")
    require(columns.dtype.kind in "iu", "_y does not hold class indices")
    for column, known in zip(columns.T, classes, strict=True):
        inside = bool((column >= 0).all() and (column < len(known)).all())
        require(inside, "_y points outside classes_")


def check_encoder(encoder: Any) -> None:
    """OneHotEncoder/OrdinalEncoder: one 1-D list of distinct categories per input feature."""
    categories = encoder.categories_
    require(len(categories) == n_features(encoder), "categories_ does not match the features")
    for values in categories:
        require(isinstance(values, np.ndarray) and values.ndim == 1, "categories_ is not 1-D")
        require(len(values) >= 1, "a feature has no categories")
        require(len(set(values.tolist())) == len(values), "a feature repeats a category")
    drop = getattr(encoder, "drop_idx_", None)
    if drop is not None:
        require(len(drop) == len(categories), "drop_idx_ does not match the features")
        for index, values in zip(drop, categories, strict=True):
            require(index is None or 0 <= int(index) < len(values), "drop_idx_ is out of range")
    if hasattr(encoder, "_n_features_outs"):
        _check_one_hot_widths(encoder, categories, drop)


def _check_one_hot_widths(encoder: Any, categories: list[np.ndarray], drop: Any) -> None:
    # OneHotEncoder builds a sparse matrix from these widths without bounds checks: one too
    # small corrupts the heap when the matrix is made dense. Infrequent-category grouping
    # changes the widths through more state, so it is not served.
    require(not encoder._infrequent_enabled, "infrequent-category grouping is not validated")
    dropped = [0] * len(categories) if drop is None else [d is not None for d in drop]
    widths = [len(values) - int(gone) for values, gone in zip(categories, dropped, strict=True)]
    require(list(encoder._n_features_outs) == widths, "_n_features_outs does not match")
    after = encoder._drop_idx_after_grouping
    same = (after is None and drop is None) or (
        after is not None and drop is not None and list(after) == list(drop)
    )
    require(same, "_drop_idx_after_grouping differs from drop_idx_")


def check_scaler(scaler: Any) -> None:
    """Scalers: each fitted array has one finite entry per feature."""
    features = n_features(scaler)
    for name in SCALER_ARRAYS:
        value = getattr(scaler, name, None)
        if value is None:
            continue
        array = np.asarray(value)
        require(array.shape == (features,), f"{name} does not match the features")
        require(bool(np.isfinite(array).all()), f"{name} is not finite")


def check_function_transformer(transformer: Any) -> None:
    """FunctionTransformer: only the identity (ColumnTransformer's `passthrough`) serves."""
    require(
        transformer.func is None and transformer.inverse_func is None,
        "a FunctionTransformer holds a function",
    )


def check_imputer(imputer: Any) -> None:
    """SimpleImputer: one statistic per feature (its missing-value indicator, a separate
    type, is refused unless vouched for)."""
    features = n_features(imputer)
    statistics = np.asarray(imputer.statistics_)
    require(statistics.shape == (features,), "statistics_ does not match the features")
