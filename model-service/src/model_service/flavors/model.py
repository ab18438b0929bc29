"""What the service serves for an XGBoost or LightGBM bundle: an estimator-like object around
the library's booster, answering as the library's scikit-learn wrappers do.

A classifier's booster knows classes only by position (0..k-1); the labels are the manifest's
`classes`, in that order. A binary model gives the probability of the second class alone: the
label is the second class when it is above 0.5 (XGBClassifier and LGBMClassifier both decide
so), and the probabilities are [1 - p, p].
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from shared_schemas.manifest import Flavor

# The booster's raw answer for a 2-D float64 array: probabilities (classification) or
# predictions (regression).
Scores = Callable[[np.ndarray], np.ndarray]


class ConversionError(Exception):
    """The model cannot be converted to ONNX (it then serves with its own library); the message
    says why, for the metadata and the log."""


class BoostedRegressor:
    """`predict` for rows in feature order; `booster` is the library's own object."""

    def __init__(self, flavor: Flavor, booster: Any, scores: Scores, features: int) -> None:
        self.flavor = flavor
        self.booster = booster
        self.n_features_in_ = features
        self._scores = scores

    def _answer(self, rows: Any) -> np.ndarray:
        array = np.asarray(rows, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"expected rows of {self.n_features_in_} features, got shape {array.shape}"
            )
        return np.asarray(self._scores(array))

    def predict(self, rows: Any) -> np.ndarray:
        return self._answer(rows)


class BoostedClassifier(BoostedRegressor):
    """`predict` (the manifest's class labels), `predict_proba` and `classes_`."""

    def __init__(
        self, flavor: Flavor, booster: Any, scores: Scores, features: int, classes: list[Any]
    ) -> None:
        super().__init__(flavor, booster, scores, features)
        # One kind of label keeps its dtype (as scikit-learn's classes_); mixed kinds stay
        # themselves (an int stays an int beside a string), in an object array.
        same = len({type(label) for label in classes}) <= 1
        self.classes_ = np.asarray(classes, dtype=None if same else object)

    def predict_proba(self, rows: Any) -> np.ndarray:
        scores = self._answer(rows)
        if scores.ndim == 1:
            return np.column_stack([1 - scores, scores])
        return scores

    def predict(self, rows: Any) -> np.ndarray:
        scores = self._answer(rows)
        if scores.ndim == 1:
            positions = (scores > 0.5).astype(np.intp)
        else:
            positions = np.argmax(scores, axis=1)
        return self.classes_[positions]


BoostedModel = BoostedRegressor | BoostedClassifier
