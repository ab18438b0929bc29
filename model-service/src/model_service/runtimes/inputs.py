"""How a compiled model takes the rows the service hands models.

A model of numbers only, fitted on an array, compiles with one float32 input `[rows, features]`
and is fed the rows whole. A model fitted on a DataFrame, or with a category feature, compiles
with one input `[rows, 1]` per feature column, named as the model was fitted (`model_column`),
typed by the feature (float32, int64, string, bool): a ColumnTransformer selects its columns by
those names (or, fitted on an array, by their position, which the inputs' order keeps).

Each input is fed its column of the rows array, cast to the input's type, without pandas. The
columns are found by the inputs' names, never by their order, so an input skl2onnx renamed,
reordered or dropped cannot be fed another feature's values. The layout follows from the
manifest and the compiled file, both pinned, so the child that measured parity and the service
that serves derive the same one with this code; the verdict records nothing more.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from shared_schemas.manifest import Manifest

# skl2onnx's tensor types, by feature type.
TENSOR_TYPES = {
    "float": "FloatTensorType",
    "int": "Int64TensorType",
    "category": "StringTensorType",
    "bool": "BooleanTensorType",
}
# What each ONNX input type is fed: numpy's cast of the column to it.
FED_AS: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(string)": np.str_,
    "tensor(bool)": np.bool_,
}


class LayoutError(ValueError):
    """The compiled model's inputs are not the model's feature columns."""


def model_columns(manifest: Manifest) -> tuple[str, ...] | None:
    """The columns a per-column model is fed, in manifest order; None for one input of all."""
    categorical = any(feature.type == "category" for feature in manifest.features)
    if manifest.input_format != "dataframe" and not categorical:
        return None
    return tuple(feature.model_column for feature in manifest.features)


def initial_types(manifest: Manifest) -> list[tuple[str, Any]]:
    """skl2onnx's `initial_types`: one input per feature column, in manifest order."""
    # Imported here: only the verifying child, when converting, pays for skl2onnx.
    from skl2onnx.common import data_types  # type: ignore[import-untyped]  # noqa: PLC0415

    types = []
    for feature in manifest.features:
        kind = feature.type
        # Fitted on an array, the model saw an int as a float (the object array scikit-learn
        # converts); fed as int64, a number past int64's range would fail where it does not.
        if kind == "int" and manifest.input_format != "dataframe":
            kind = "float"
        types.append((feature.model_column, getattr(data_types, TENSOR_TYPES[kind])([None, 1])))
    return types


@dataclass(frozen=True)
class Column:
    """One ONNX input: its name, the rows' column it is fed and the type it is cast to."""

    name: str
    index: int
    dtype: Any


def layout(inputs: list[tuple[str, str]], columns: tuple[str, ...]) -> tuple[Column, ...]:
    """The column of each ONNX input (`(name, type)`), found by name; LayoutError when an
    input is not a feature column or of a type the rows cannot be cast to."""
    positions = {name: index for index, name in enumerate(columns)}
    found = []
    for name, kind in inputs:
        if name not in positions:
            raise LayoutError(f"the compiled model's input {name[:64]!r} is not a feature column")
        if kind not in FED_AS:
            raise LayoutError(f"the compiled model's input {name[:64]!r} takes {kind}")
        found.append(Column(name=name, index=positions[name], dtype=FED_AS[kind]))
    if len({column.index for column in found}) != len(found):
        raise LayoutError("two of the compiled model's inputs take the same column")
    return tuple(found)


def feed(columns: tuple[Column, ...], given: np.ndarray) -> dict[str, np.ndarray]:
    """Each input's column of `given` as `[rows, 1]`, cast to the input's type."""
    return {
        column.name: given[:, column.index : column.index + 1].astype(column.dtype)
        for column in columns
    }
