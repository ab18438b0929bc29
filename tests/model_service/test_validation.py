"""Structural validation: each validated family passes when fitted and is refused when its
arrays disagree; every other type is refused unless the operator lists it."""

import io
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
)
from sklearn.tree import DecisionTreeRegressor

from model_service.models.validation import StructureError, validate_estimator
from model_service.models.ziplimits import ZipLimitError, check_zip_directory

ROWS = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 2.0, 0.0], [3.0, 1.0, 1.0]])
THREE = np.array(["a", "b", "c", "a"])
TWO = np.array([0, 1, 1, 0])


def valid(estimator: Any, listed: list[str] | None = None) -> None:
    validate_estimator(estimator, unvalidated_types=listed or [])


@pytest.mark.parametrize(
    "estimator",
    [
        GradientBoostingClassifier(n_estimators=3).fit(ROWS, THREE),
        GradientBoostingClassifier(n_estimators=3).fit(ROWS, TWO),
        GradientBoostingRegressor(n_estimators=3).fit(ROWS, TWO),
        RandomForestRegressor(n_estimators=3).fit(ROWS, TWO),
        LinearRegression().fit(ROWS, TWO),
        make_pipeline(MinMaxScaler(), LogisticRegression()).fit(ROWS, THREE),
        ColumnTransformer([("one", OneHotEncoder(), [0])], remainder="passthrough").fit(ROWS),
        KNeighborsClassifier(3, algorithm="brute", metric="minkowski", p=3).fit(ROWS, THREE),
        KNeighborsClassifier(2, algorithm="brute").fit(ROWS, np.stack([TWO, THREE], axis=1)),
        KNeighborsRegressor(2, algorithm="brute", weights="distance").fit(ROWS, TWO * 1.5),
        make_pipeline(SimpleImputer(), LogisticRegression()).fit(ROWS, THREE),
        SimpleImputer(strategy="most_frequent").fit(THREE.reshape(-1, 1).astype(object)),
    ],
    ids=[
        *("gb-3", "gb-2", "gb-reg", "forest-reg", "linear", "pipeline", "columns"),
        *("knn", "knn-2-outputs", "knn-reg", "imputer", "imputer-categories"),
    ],
)
def test_fitted_validated_estimators_pass(estimator: Any) -> None:
    valid(estimator)


def _wider_coef(model: Any) -> None:
    model.coef_ = np.zeros((3, 5))


def _short_intercept(model: Any) -> None:
    model.intercept_ = np.zeros(1)


def _repeat_category(model: Any) -> None:
    model.categories_ = [np.array([0.0, 0.0, 1.0])]


def _narrow_one_hot(model: Any) -> None:
    model._n_features_outs = [1]


def _short_scale(model: Any) -> None:
    model.scale_ = np.ones(2)


def _short_statistics(model: Any) -> None:
    model.statistics_ = np.zeros(2)


def _wide_tree(model: Any) -> None:
    model.estimators_[0].n_features_in_ = 5


def _nan_threshold(model: Any) -> None:
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["threshold"][0] = np.nan
    model.tree_.__setstate__({**state, "nodes": nodes})


def _label_outside_classes(model: Any) -> None:
    model._y = np.array([0, 1, 2, 3])


def _k_past_the_rows(model: Any) -> None:
    model.n_neighbors = 5


def _feature_out_of_range(model: Any) -> None:
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = 7
    model.tree_.__setstate__({**state, "nodes": nodes})


@pytest.mark.parametrize(
    ("estimator", "edit", "reason"),
    [
        (LogisticRegression().fit(ROWS, THREE), _wider_coef, "coef_ does not match"),
        (LogisticRegression().fit(ROWS, THREE), _short_intercept, "intercept_ does not match"),
        (OneHotEncoder().fit(ROWS[:, :1]), _repeat_category, "repeats a category"),
        (OneHotEncoder().fit(ROWS[:, :1]), _narrow_one_hot, "_n_features_outs does not match"),
        (StandardScaler().fit(ROWS), _short_scale, "scale_ does not match"),
        (SimpleImputer().fit(ROWS), _short_statistics, "statistics_ does not match"),
        (RandomForestRegressor(n_estimators=2).fit(ROWS, TWO), _wide_tree, "other features"),
        (DecisionTreeRegressor().fit(ROWS, TWO), _nan_threshold, "threshold is not finite"),
        (DecisionTreeRegressor().fit(ROWS, TWO), _feature_out_of_range, "splits on no feature"),
        (
            KNeighborsClassifier(1, algorithm="brute").fit(ROWS, THREE),
            _label_outside_classes,
            "outside classes_",
        ),
        (
            KNeighborsClassifier(1, algorithm="brute").fit(ROWS, THREE),
            _k_past_the_rows,
            "n_neighbors",
        ),
    ],
    ids=[
        *("coef", "intercept", "categories", "widths", "scaler", "imputer", "forest"),
        "threshold",
        *("feature", "knn-labels", "knn-k"),
    ],
)
def test_inconsistent_contents_are_refused(
    estimator: Any, edit: Callable[[Any], None], reason: str
) -> None:
    edit(estimator)
    with pytest.raises(StructureError, match=reason):
        valid(estimator)


def test_infrequent_category_grouping_is_refused() -> None:
    encoder = OneHotEncoder(min_frequency=2).fit(np.array([["a"], ["a"], ["b"], ["c"]]))
    with pytest.raises(StructureError, match="infrequent"):
        valid(encoder)


def test_a_function_transformer_with_a_function_is_refused() -> None:
    with pytest.raises(StructureError, match="holds a function"):
        valid(FunctionTransformer(np.log1p).fit(ROWS))


def test_other_types_are_refused_unless_the_operator_lists_them() -> None:
    model = GaussianNB().fit(ROWS, TWO)
    with pytest.raises(StructureError, match="MODEL_UNVALIDATED_TYPES"):
        valid(model)
    valid(model, ["sklearn.naive_bayes.GaussianNB"])


def _zip(members: dict[str, bytes], compression: int = 0) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("members", "compression", "reason"),
    [
        ({f"{i}.npy": b"" for i in range(11)}, 0, "more than 10 entries"),
        ({"a.npy": bytes(5000)}, 0, "unpacks to more than 4096 bytes"),
        ({"a.npy": bytes(4000), "b.npy": bytes(4000)}, 0, "more than 4096 bytes"),
    ],
    ids=["members", "size", "total"],
)
def test_zip_directory_limits(members: dict[str, bytes], compression: int, reason: str) -> None:
    with pytest.raises(ZipLimitError, match=reason):
        check_zip_directory(
            _zip(members, compression), max_members=10, max_bytes=4096, max_ratio=10
        )


def test_zip_ratio_limit() -> None:
    data = _zip({"a.npy": bytes(1024 * 1024)}, compression=8)  # deflated zeros: ~1000:1
    with pytest.raises(ZipLimitError, match="times its size"):
        check_zip_directory(data, max_members=10, max_bytes=2**30, max_ratio=200)
    check_zip_directory(data, max_members=10, max_bytes=2**30, max_ratio=2000)


def test_neighbours_searched_through_a_native_tree_are_refused() -> None:
    with pytest.raises(StructureError, match="only brute-force neighbours"):
        valid(KNeighborsClassifier(1, algorithm="kd_tree").fit(ROWS, THREE))
