"""Rows for `predict`: records, a pandas DataFrame or a numpy array, as the JSON instances the
API takes. pandas and numpy are never imported here: a client-only install has neither, and an
object that is one is recognised by what it offers."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from servir.errors import ServirError
from shared_schemas.manifest import FeatureSpec, Scalar

Instance = dict[str, Scalar]


def is_frame(rows: object) -> bool:
    """A pandas DataFrame (or anything shaped like one)."""
    return hasattr(rows, "columns") and hasattr(rows, "to_dict")


def is_array(rows: object) -> bool:
    """A numpy array (or anything shaped like one)."""
    return hasattr(rows, "ndim") and hasattr(rows, "tolist") and not is_frame(rows)


def needs_features(rows: object) -> bool:
    """True when the model's features are needed to name the values (frames and arrays)."""
    return is_frame(rows) or is_array(rows)


def instances(rows: object, features: Sequence[FeatureSpec] | None = None) -> list[Instance]:
    """The JSON instances for `rows`; `features` (the model's metadata) name a DataFrame's
    training columns and an array's columns, which are in feature order."""
    if is_frame(rows):
        return _from_frame(rows, features or [])
    if is_array(rows):
        return _from_array(rows, features or [])
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ServirError("rows must be a list of dicts, a pandas DataFrame or a numpy array")
    return [_record(index, row) for index, row in enumerate(rows)]


def _from_frame(frame: Any, features: Sequence[FeatureSpec]) -> list[Instance]:
    # A DataFrame may carry the names the model was fitted with (`sepal length (cm)`): the
    # wire wants the feature's JSON-safe name.
    wire = {spec.model_column: spec.name for spec in features}
    records = frame.to_dict(orient="records")
    return [
        _record(index, {wire.get(str(key), str(key)): value for key, value in row.items()})
        for index, row in enumerate(records)
    ]


def _from_array(array: Any, features: Sequence[FeatureSpec]) -> list[Instance]:
    if array.ndim != 2:
        raise ServirError(f"an array of rows must have 2 dimensions, not {array.ndim}")
    names = [spec.name for spec in features]
    if array.shape[1] != len(names):
        raise ServirError(
            f"the array has {array.shape[1]} columns and the model {len(names)} features"
        )
    return [
        _record(index, dict(zip(names, row, strict=True)))
        for index, row in enumerate(array.tolist())
    ]


def _record(index: int, row: object) -> Instance:
    if not isinstance(row, Mapping):
        raise ServirError(f"row {index} is not a dict of feature values")
    return {str(name): native(value, index, str(name)) for name, value in row.items()}


def native(value: object, index: int, name: str) -> Scalar:
    """A JSON-native scalar (numpy scalars unboxed); NaN, infinities and missing values are
    refused here, with the row and the feature, rather than by the server."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        value = item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ServirError(f"row {index}, {name}: {value} is not a number the API accepts")
    if value is None or not isinstance(value, (bool, int, float, str)):
        shown = "a missing value" if value is None else type(value).__name__
        raise ServirError(f"row {index}, {name}: {shown} is not a JSON number, bool or string")
    return value
