"""Structural validation of a loaded estimator: the contents compiled code will index into.

skops decides which types a file may build, not whether their arrays make sense: a Tree whose
child indices point outside its node array crashes the process on the first predict, and one
whose root points to itself loops forever. Every object reachable from the estimator is checked
here, before it serves: its type must have a validator below (VALIDATED_TYPES), hold nothing
to check (HARMLESS_TYPES), be plain data (numbers, strings, numeric arrays, dtypes), or be
listed by the operator in MODEL_UNVALIDATED_TYPES.
Anything else is refused.
"""

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from model_service.models.validators import (
    StructureError,
    check_dummy,
    check_encoder,
    check_forest,
    check_function_transformer,
    check_gradient_boosting,
    check_imputer,
    check_linear,
    check_neighbors,
    check_scaler,
    check_tree,
    check_tree_estimator,
)

# Types whose contents are checked, by `module.QualName` as skops names them.
VALIDATED_TYPES: dict[str, Callable[[Any], None]] = {
    "sklearn.tree._tree.Tree": check_tree,
    "sklearn.tree._classes.DecisionTreeClassifier": check_tree_estimator,
    "sklearn.tree._classes.DecisionTreeRegressor": check_tree_estimator,
    "sklearn.tree._classes.ExtraTreeClassifier": check_tree_estimator,
    "sklearn.tree._classes.ExtraTreeRegressor": check_tree_estimator,
    "sklearn.ensemble._forest.RandomForestClassifier": check_forest,
    "sklearn.ensemble._forest.RandomForestRegressor": check_forest,
    "sklearn.ensemble._forest.ExtraTreesClassifier": check_forest,
    "sklearn.ensemble._forest.ExtraTreesRegressor": check_forest,
    "sklearn.ensemble._gb.GradientBoostingClassifier": check_gradient_boosting,
    "sklearn.ensemble._gb.GradientBoostingRegressor": check_gradient_boosting,
    "sklearn.dummy.DummyClassifier": check_dummy,
    "sklearn.dummy.DummyRegressor": check_dummy,
    "sklearn.linear_model._logistic.LogisticRegression": check_linear,
    "sklearn.linear_model._base.LinearRegression": check_linear,
    "sklearn.linear_model._ridge.Ridge": check_linear,
    "sklearn.linear_model._ridge.RidgeClassifier": check_linear,
    "sklearn.linear_model._coordinate_descent.Lasso": check_linear,
    "sklearn.linear_model._coordinate_descent.ElasticNet": check_linear,
    "sklearn.linear_model._stochastic_gradient.SGDClassifier": check_linear,
    "sklearn.linear_model._stochastic_gradient.SGDRegressor": check_linear,
    "sklearn.neighbors._classification.KNeighborsClassifier": check_neighbors,
    "sklearn.neighbors._regression.KNeighborsRegressor": check_neighbors,
    "sklearn.preprocessing._encoders.OneHotEncoder": check_encoder,
    "sklearn.preprocessing._encoders.OrdinalEncoder": check_encoder,
    "sklearn.preprocessing._data.StandardScaler": check_scaler,
    "sklearn.preprocessing._data.MinMaxScaler": check_scaler,
    "sklearn.preprocessing._data.MaxAbsScaler": check_scaler,
    "sklearn.preprocessing._data.RobustScaler": check_scaler,
    "sklearn.impute._base.SimpleImputer": check_imputer,
    # Identity unless it holds a function, and a function is refused there.
    "sklearn.preprocessing._function_transformer.FunctionTransformer": (check_function_transformer),
}
# Types with nothing to check: nothing in them is an index or a size compiled code trusts.
# Their attributes are still walked, so what they hold is checked on its own.
HARMLESS_TYPES = frozenset(
    {
        # Containers: their steps are checked one by one; a column a ColumnTransformer selects
        # out of range is an IndexError numpy raises, not a crash.
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        # Random state, used only while fitting.
        "numpy.random.mtrand.RandomState",
        # Gradient boosting's losses and links: elementwise formulas over a few scalars.
        *(
            f"sklearn._loss.{name}"
            for name in (
                "link.Interval",
                "link.IdentityLink",
                "link.LogitLink",
                "link.MultinomialLogit",
                "loss.HalfSquaredError",
                "loss.AbsoluteError",
                "loss.PinballLoss",
                "loss.HuberLoss",
                "loss.HalfBinomialLoss",
                "loss.HalfMultinomialLoss",
                "loss.ExponentialLoss",
                "_loss.CyHalfSquaredError",
                "_loss.CyAbsoluteError",
                "_loss.CyPinballLoss",
                "_loss.CyHuberLoss",
                "_loss.CyHalfBinomialLoss",
                "_loss.CyHalfMultinomialLoss",
                "_loss.CyExponentialLoss",
            )
        ),
    }
)
# Plain data: nothing in it is an index or a pointer compiled code follows.
PLAIN_TYPES = (str, bytes, int, float, bool, complex, type(None), slice, np.generic, np.dtype)
# A dtype given as a class (`dtype=np.float64`) is data too.
PLAIN_CLASSES = (int, float, bool, str, complex, np.generic)
MAX_OBJECTS = 1_000_000
__all__ = ["HARMLESS_TYPES", "VALIDATED_TYPES", "StructureError", "validate_estimator"]


def type_name(value: Any) -> str:
    """`module.QualName` of the value's type, as skops names it."""
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def validate_estimator(estimator: Any, *, unvalidated_types: list[str]) -> None:
    """Raise StructureError unless every object in `estimator` is checked or vouched for."""
    vouched = set(unvalidated_types)
    for count, value in enumerate(_objects(estimator, vouched)):
        if count > MAX_OBJECTS:
            raise StructureError(f"the model holds more than {MAX_OBJECTS} objects")
        name = type_name(value)
        check = VALIDATED_TYPES.get(name)
        if check is not None:
            if _is_fitted(value):
                check(value)
        elif name not in HARMLESS_TYPES and name not in vouched:
            raise StructureError(
                f"{name} is not a type Servir validates; an operator may serve it unchecked "
                "by listing it in MODEL_UNVALIDATED_TYPES"
            )


def _objects(root: Any, vouched: set[str]) -> Iterator[Any]:
    """Every non-plain object reachable from `root`, each once (depth-first, no recursion)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen or _is_plain(value):
            continue
        seen.add(id(value))
        if isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, np.ndarray):  # object arrays only: numeric ones are plain
            stack.extend(value.ravel().tolist())
        else:
            yield value
            stack.extend(getattr(value, "__dict__", {}).values())


def _is_fitted(value: Any) -> bool:
    # A ColumnTransformer keeps its unfitted templates next to the fitted copies; those cannot
    # predict (NotFittedError), so there is nothing to check. A Tree is always checked.
    if not isinstance(value, BaseEstimator):
        return True
    try:
        check_is_fitted(value)
    except NotFittedError:
        return False
    return True


def _is_plain(value: Any) -> bool:
    if isinstance(value, PLAIN_TYPES):
        return True
    if isinstance(value, type) and (value is object or issubclass(value, PLAIN_CLASSES)):
        return True
    return isinstance(value, np.ndarray) and value.dtype != object
