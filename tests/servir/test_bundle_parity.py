"""save_model loads the saved bundle back as the service will and refuses it when it answers
otherwise than the model in memory: nothing ships that would predict differently."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier

from servir.bundle import save_model
from servir.errors import BundleError


class Shifted(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # sklearn is untyped
    """Predicts 1 where the row's sum passes a threshold learnt at fit; the threshold is left
    out of its saved state, so the loaded copy falls back to 0 and answers otherwise."""

    def fit(self, data: Any, labels: Any) -> "Shifted":
        self.classes_ = np.array([0, 1])
        self.threshold_ = float(np.median(np.asarray(data).sum(axis=1)))
        return self

    def predict(self, data: Any) -> np.ndarray:
        threshold = getattr(self, "threshold_", 0.0)
        above: np.ndarray = np.asarray(data).sum(axis=1) > threshold
        return above.astype(int)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("threshold_", None)
        return state


def test_a_model_that_answers_otherwise_once_loaded_is_refused(tmp_path: Path) -> None:
    data = np.arange(1.0, 13.0).reshape(6, 2)
    model = Shifted().fit(data, [0, 1] * 3)

    with pytest.raises(BundleError) as caught:
        save_model(model, tmp_path / "shifted" / "1", sample=data, name="shifted")

    message = str(caught.value)
    assert "first at sample row 0 {'x0': 1.0, 'x1': 2.0}" in message
    assert "prediction 0 in memory, 1 once loaded" in message
    assert list(tmp_path.iterdir()) == []  # the staging folder and the parents it made are gone


class Forgetful(Shifted):
    """Needs its threshold to predict at all: the loaded copy raises."""

    def predict(self, data: Any) -> np.ndarray:
        above: np.ndarray = np.asarray(data).sum(axis=1) > self.threshold_
        return above.astype(int)


def test_a_model_that_fails_once_loaded_is_refused(tmp_path: Path) -> None:
    data = np.arange(1.0, 13.0).reshape(6, 2)
    model = Forgetful().fit(data, [0, 1] * 3)

    with pytest.raises(
        BundleError,
        match=r"cannot predict the sample as the service hands it rows .*AttributeError",
    ):
        save_model(model, tmp_path / "forgetful" / "1", sample=data, name="forgetful")
    assert list(tmp_path.iterdir()) == []


def test_a_pandas_categorical_model_is_checked_on_text_as_the_service_sends(
    tmp_path: Path,
) -> None:
    # The service hands a category feature as text (object dtype), not as a pandas Categorical;
    # a model that handles both answers the same and is saved.
    frame = pd.DataFrame(
        {"especie": pd.Categorical(["Gato", "Perro"] * 10), "peso": np.linspace(1.0, 20.0, 20)}
    )
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features="from_dtype")
    model.fit(frame, ["a", "b"] * 10)

    folder = save_model(
        model, tmp_path / "hgb" / "1", sample=frame[["peso", "especie"]], name="hgb"
    )

    assert (folder / "manifest.json").is_file()
