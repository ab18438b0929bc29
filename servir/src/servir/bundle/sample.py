"""The caller's sample (or reference data) as one DataFrame named and ordered as the model
takes its columns, checked before anything is written."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from servir.errors import BundleError
from shared_schemas.manifest import FeatureType, InputFormat


@dataclass(frozen=True)
class Sample:
    """Rows with one column per feature, named as fitted and in the model's order."""

    frame: pd.DataFrame
    types: list[FeatureType]
    input_format: InputFormat
    # What the in-memory model predicts on: the frame, or the array it was given.
    model_input: Any


def prepare(model: Any, data: Any, role: str) -> Sample:
    """`data` (a DataFrame or a 2-D ndarray) checked against `model`; `role` names it in errors."""
    fitted = getattr(model, "feature_names_in_", None)
    frame, array = _as_frame(data, role, None if fitted is None else list(fitted))
    if frame.empty:
        raise BundleError(f"the {role} is empty: it needs at least one row and one column")
    if fitted is not None:
        frame = _fitted_columns(frame, [str(name) for name in fitted], role)
        model_input: Any = frame
        input_format: InputFormat = "dataframe"
    else:
        _check_width(model, frame, role)
        model_input = frame.to_numpy() if array is None else array
        input_format = "ndarray"
    _check_missing(frame, role)
    types = [feature_type(str(name), frame[name], role) for name in frame.columns]
    return Sample(frame=frame, types=types, input_format=input_format, model_input=model_input)


def _as_frame(
    data: Any, role: str, fitted: list[str] | None
) -> tuple[pd.DataFrame, np.ndarray | None]:
    if isinstance(data, pd.DataFrame):
        if not data.columns.is_unique:
            raise BundleError(f"the {role} has duplicate column names")
        names = [name if isinstance(name, str) else f"x{i}" for i, name in enumerate(data.columns)]
        return data.set_axis(names, axis="columns").reset_index(drop=True), None
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise BundleError(
                f"the {role} must be 2-D (one row per sample, one column per feature); "
                f"it has {data.ndim} dimension(s)"
            )
        width = data.shape[1]
        if fitted is not None and len(fitted) != width:
            raise BundleError(
                f"the {role} has {width} column(s); the model was fitted on {len(fitted)}"
            )
        columns = fitted or [f"x{i}" for i in range(width)]
        # An object array (mixed columns) gets a dtype per column, as a DataFrame would have.
        return pd.DataFrame(data, columns=columns).infer_objects(), data
    raise BundleError(
        f"the {role} must be a pandas DataFrame or a numpy ndarray, not {type(data).__name__}"
    )


def _fitted_columns(frame: pd.DataFrame, fitted: list[str], role: str) -> pd.DataFrame:
    # Columns are matched by name: the order the caller gives them in does not matter, and
    # columns the model was not fitted on are left out.
    missing = [name for name in fitted if name not in frame.columns]
    if missing:
        raise BundleError(
            f"the {role} lacks column(s) the model was fitted on: {', '.join(map(repr, missing))}"
        )
    return frame[fitted]


def _check_width(model: Any, frame: pd.DataFrame, role: str) -> None:
    expected = getattr(model, "n_features_in_", None)
    if isinstance(expected, int) and expected != frame.shape[1]:
        raise BundleError(
            f"the {role} has {frame.shape[1]} column(s); the model was fitted on {expected}"
        )


def _check_missing(frame: pd.DataFrame, role: str) -> None:
    counts = frame.isna().sum()
    holes = [f"{name!r} ({count})" for name, count in counts.items() if count]
    if holes:
        raise BundleError(
            f"the {role} has missing values (NaN/None), which a request cannot send: "
            f"{', '.join(holes)}; fill or drop them first"
        )


def feature_type(name: str, values: pd.Series, role: str) -> FeatureType:
    """The wire type of a column from its dtype; BundleError for what a request cannot carry."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        _check_text(name, pd.Series(dtype.categories), role)
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        _check_text(name, values, role)
        return "category"
    raise BundleError(
        f"column {name!r} of the {role} is {dtype}: a feature is a number, a boolean or a "
        "category (text); convert it before fitting (a date to numbers, for instance)"
    )


def _check_text(name: str, values: pd.Series, role: str) -> None:
    odd = next((value for value in values if not isinstance(value, str)), None)
    if odd is not None:
        raise BundleError(
            f"column {name!r} of the {role} holds {type(odd).__name__} values among its "
            "categories; a category column holds text only"
        )
