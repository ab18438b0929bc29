"""Per-model typed contracts, generated from each manifest.

Each model gets an instance model (a field per feature: its type, bounds, an Enum for
categories) and a request model, both under the model's own name, so validation and OpenAPI
are exact and an error names the row and the field.
"""

import enum
import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from model_service.formats.columns import RowColumns, row_columns
from model_service.formats.names import FeatureNames, feature_names
from shared_schemas.base import WHOLE_NUMBER
from shared_schemas.manifest import FRAME_DTYPES, FeatureSpec, Manifest

INSTANCE_CONFIG = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
# scikit-learn's tree models compute in float32 and refuse a value past its range (even a
# finite float64); none is meaningful to a model, so an unbounded number is bounded there.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def bounds(feature: FeatureSpec) -> tuple[float, float]:
    """A numeric feature's limits: the manifest's, else float32's range."""
    low = -FLOAT32_MAX if feature.min is None else feature.min
    high = FLOAT32_MAX if feature.max is None else feature.max
    return low, high


def schema_name(model_name: str) -> str:
    """`breast-cancer` -> `BreastCancer`."""
    return "".join(part.capitalize() for part in model_name.replace("_", "-").split("-"))


def _annotation(feature: FeatureSpec, prefix: str) -> Any:
    about = feature.description
    if feature.type == "category":
        assert feature.categories is not None
        # Members get plain names of their own: a category is data ("", "mro", "__init__"),
        # and as a member name it would break Enum or be dropped by it.
        members = [(f"c{index}", value) for index, value in enumerate(feature.categories)]
        return enum.Enum(f"{prefix}{schema_name(feature.name)}", members, type=str)
    if feature.type == "bool":
        return Annotated[bool, Field(description=about)]
    if feature.type == "int":
        low, high = bounds(feature)
        limits = Field(ge=math.ceil(low), le=math.floor(high), description=about)
        return Annotated[int, limits, WHOLE_NUMBER]
    low, high = bounds(feature)
    return Annotated[float, Field(ge=low, le=high, description=about)]


@dataclass(frozen=True)
class ModelSchemas:
    """The generated models of one model, and how to turn validated rows into an array."""

    instance: type[BaseModel]
    request: type[BaseModel]
    feature_names: tuple[str, ...]
    dtype: type
    # Every name a caller may give each feature (wire name or fitted column).
    names: FeatureNames
    # The column-wise check of valid rows (formats/columns.py), before any per-row validation.
    columns: RowColumns
    # DataFrame models: the columns (names as fitted, pandas dtypes) the rows become.
    frame_columns: tuple[tuple[str, str], ...] | None = None

    def model_input(self, rows: np.ndarray) -> Any:
        """What the estimator takes: the rows themselves, or a DataFrame named as fitted."""
        if self.frame_columns is None:
            return rows
        import pandas as pd  # noqa: PLC0415 - only DataFrame models pay for pandas

        columns = {
            name: pd.Series(rows[:, index], dtype=dtype, copy=False)
            for index, (name, dtype) in enumerate(self.frame_columns)
        }
        return pd.DataFrame(columns, copy=False)

    def to_array(self, instances: list[BaseModel]) -> np.ndarray:
        """A 2-D array, one column per feature in manifest order."""
        rows = [
            [_plain(getattr(instance, name)) for name in self.feature_names]
            for instance in instances
        ]
        return np.array(rows, dtype=self.dtype)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def build_schemas(manifest: Manifest, *, max_rows: int) -> ModelSchemas:
    """The instance and request models of `manifest`'s model."""
    prefix = schema_name(manifest.name)
    fields: dict[str, Any] = {f.name: (_annotation(f, prefix), ...) for f in manifest.features}
    instance: type[BaseModel] = create_model(
        f"{prefix}Instance", __config__=INSTANCE_CONFIG, **fields
    )
    rows: Any = Annotated[list[instance], Field(min_length=1, max_length=max_rows)]
    request: type[BaseModel] = create_model(
        f"{prefix}PredictRequest",
        __config__=INSTANCE_CONFIG,
        instances=(rows, ...),
        return_probabilities=(bool, False),
    )
    categorical = any(f.type == "category" for f in manifest.features)
    frame = None
    if manifest.input_format == "dataframe":
        frame = tuple((f.model_column, FRAME_DTYPES[f.type]) for f in manifest.features)
    return ModelSchemas(
        instance=instance,
        request=request,
        feature_names=tuple(f.name for f in manifest.features),
        dtype=object if categorical else np.float64,
        names=feature_names(manifest.features),
        columns=row_columns(prefix, manifest.features, bounds, max_rows=max_rows),
        frame_columns=frame,
    )
