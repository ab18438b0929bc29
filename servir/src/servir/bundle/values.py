"""Turning numpy and pandas values into the JSON values a client sends and the manifest holds."""

import math
from typing import Any

import numpy as np
import pandas as pd

from servir.errors import BundleError
from shared_schemas.manifest import FeatureSpec, Label, Scalar


def native(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (`np.int64(3)` -> 3); others unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def label(value: Any) -> Label:
    """A prediction or a class as JSON holds it: a number, a string or a boolean."""
    plain = native(value)
    if isinstance(plain, bool | int | str):
        return plain
    if isinstance(plain, float):
        if not math.isfinite(plain):
            raise BundleError(f"the model answers {plain}, which JSON cannot carry")
        return plain
    raise BundleError(
        f"the model answers {type(plain).__name__} values; a prediction must be a number, "
        "a string or a boolean"
    )


def wire_value(feature: FeatureSpec, value: Any) -> Scalar:
    """One sample value as a request carries it for `feature`."""
    plain = native(value)
    if feature.type == "category":
        return str(plain)
    if feature.type == "bool":
        return bool(plain)
    if feature.type == "int":
        return int(plain)
    return float(plain)


def wire_rows(frame: pd.DataFrame, features: list[FeatureSpec]) -> list[dict[str, Scalar]]:
    """Each row of `frame` (columns as fitted, in feature order) keyed by wire name."""
    columns = [frame[feature.model_column].tolist() for feature in features]
    return [
        {
            feature.name: wire_value(feature, column[row])
            for feature, column in zip(features, columns, strict=True)
        }
        for row in range(len(frame))
    ]
