"""XGBoost and LightGBM models in bundles, in their own formats (never pickle): XGBoost's
UBJSON (model.ubj), LightGBM's text (model.txt).

Neither library is a dependency of the SDK: each is imported only for a model of its own, found
by the module its class comes from. The saved file is read back with the library itself and
answered as the service answers: the booster's probabilities, the label of a binary model the
second class when its probability is above 0.5, else the most probable class, named by the
manifest's classes (model_service.flavors does the same on the service's side).
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from servir.bundle.sample import Sample
from servir.errors import BundleError
from shared_schemas.manifest import Flavor, Manifest, ModelFile

WRAPPERS: dict[Flavor, frozenset[str]] = {
    "xgboost": frozenset({"XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor"}),
    "lightgbm": frozenset({"LGBMClassifier", "LGBMRegressor"}),
}
FILES: dict[Flavor, ModelFile] = {"xgboost": "model.ubj", "lightgbm": "model.txt"}


def flavor_of(model: Any) -> Flavor:
    """`xgboost` or `lightgbm` for their scikit-learn wrappers; `sklearn` for anything else."""
    library = type(model).__module__.split(".")[0]
    if library not in ("xgboost", "lightgbm"):
        return "sklearn"
    flavor: Flavor = "xgboost" if library == "xgboost" else "lightgbm"
    if type(model).__name__ not in WRAPPERS[flavor]:
        raise BundleError(
            f"a {library} {type(model).__name__} cannot be saved; save one of its scikit-learn "
            f"models ({', '.join(sorted(WRAPPERS[flavor]))}), fitted"
        )
    return flavor


@dataclasses.dataclass(frozen=True)
class Columns:
    """What `prepare` reads of a LightGBM model: its width, and no column names (LightGBM
    rewrites them, `a b` becoming `a_b`; names are checked in `checked_sample` instead)."""

    n_features_in_: int


def sample_view(model: Any, flavor: Flavor) -> Any:
    """The object the sample is prepared against (servir.bundle.sample.prepare)."""
    return Columns(int(model.n_features_in_)) if flavor == "lightgbm" else model


def checked_sample(model: Any, flavor: Flavor, given: Sample, *, named: bool) -> Sample:
    """The sample as these flavors take rows: numbers and booleans, handed as an ndarray.
    `named`: the sample is a DataFrame, whose column names can be checked."""
    text = [
        str(name)
        for name, kind in zip(given.frame.columns, given.types, strict=True)
        if kind == "category"
    ]
    if text:
        raise BundleError(
            f"{flavor} bundles take numbers and booleans only; category columns are not "
            f"supported yet: {', '.join(map(repr, text))}"
        )
    if flavor == "lightgbm" and named:
        _check_lightgbm_names(model, given)
        # The model in memory predicts the sample as it was fitted: a DataFrame.
        given = dataclasses.replace(given, model_input=given.frame)
    return dataclasses.replace(given, input_format="ndarray")


def _check_lightgbm_names(model: Any, given: Sample) -> None:
    fitted = [str(name) for name in model.booster_.feature_name()]
    if fitted == [f"Column_{index}" for index in range(len(fitted))]:
        return  # fitted on an array: no names to compare
    names = [str(name).replace(" ", "_") for name in given.frame.columns]
    if names != fitted:
        raise BundleError(
            f"the sample's columns ({', '.join(names)}) are not the ones the model was fitted "
            f"on, in order ({', '.join(fitted)})"
        )


def write_model(folder: Path, model: Any, flavor: Flavor) -> ModelFile:
    """The model's file in `folder`, in its library's own format; its name."""
    name = FILES[flavor]
    if flavor == "xgboost":
        (folder / name).write_bytes(bytes(model.get_booster().save_raw("ubj")))
    else:
        (folder / name).write_text(model.booster_.model_to_string(), encoding="utf-8")
    return name


Scores = Callable[[np.ndarray], np.ndarray]


class Reloaded:
    """A saved XGBoost or LightGBM regressor, read back by its library: `predict` on rows in
    feature order, as the service answers."""

    def __init__(self, scores: Scores) -> None:
        self._scores = scores

    def _answer(self, rows: Any) -> np.ndarray:
        return self._scores(np.asarray(rows, dtype=np.float64))

    def predict(self, rows: Any) -> np.ndarray:
        return self._answer(rows)


class ReloadedClassifier(Reloaded):
    """A saved classifier: labels are the manifest's classes, by position."""

    def __init__(self, scores: Scores, classes: list[Any]) -> None:
        super().__init__(scores)
        # One kind of label keeps its dtype (as scikit-learn's classes_); mixed kinds stay
        # themselves (an int stays an int beside a string), in an object array.
        same = len({type(label) for label in classes}) <= 1
        self.classes_ = np.asarray(classes, dtype=None if same else object)

    def predict(self, rows: Any) -> np.ndarray:
        scores = self._answer(rows)
        positions = (scores > 0.5).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return np.asarray(self.classes_[positions])

    def predict_proba(self, rows: Any) -> np.ndarray:
        scores = self._answer(rows)
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores


def reload(data: bytes, manifest: Manifest) -> Reloaded:
    """The saved model file read back by its own library."""
    scores = _scores(data, manifest)
    if manifest.task == "classification":
        return ReloadedClassifier(scores, list(manifest.classes or []))
    return Reloaded(scores)


def _scores(data: bytes, manifest: Manifest) -> Scores:
    if manifest.flavor == "xgboost":
        import xgboost  # noqa: PLC0415 - only an XGBoost bundle needs it

        booster = xgboost.Booster()
        booster.load_model(bytearray(data))
        best = booster.attr("best_iteration")
        rounds = (0, int(best) + 1) if best is not None else (0, 0)
        return lambda rows: np.asarray(
            booster.inplace_predict(rows, iteration_range=rounds, validate_features=False)
        )
    import lightgbm  # noqa: PLC0415 - only a LightGBM bundle needs it

    model = lightgbm.Booster(model_str=data.decode("utf-8"))
    return lambda rows: np.asarray(model.predict(rows))
