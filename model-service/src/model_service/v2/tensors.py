"""Turn an Open Inference Protocol input tensor into the rows a model's estimator takes.

Rules (the v2 contract of every model):
- A model without category features takes one numeric tensor (FP64, FP32 or INT*) of shape
  `[rows, n_features]`, columns in manifest order; the estimator gets float64, as from the
  friendly API.
- A model with a category feature takes one BYTES tensor of the same shape whose elements are
  the values written as strings (`"12"`, `"3.5"`, `"true"`, `"two-year"`): a number cannot name
  a category, and one tensor has one datatype.
- Values must be finite, within the feature's min..max, whole for int features and 0/1
  (or true/false) for bool ones; otherwise `BadTensor` (400) names the row and the feature.
"""

import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from model_service.models.registry import ModelVersion
from model_service.models.schemas import bounds
from servir_runtime.problems import ServiceError
from shared_schemas.inference import V2Datatype

NUMERIC_DATATYPES: dict[str, np.dtype[Any]] = {
    "FP64": np.dtype("<f8"),
    "FP32": np.dtype("<f4"),
    "INT64": np.dtype("<i8"),
    "INT32": np.dtype("<i4"),
    "INT16": np.dtype("<i2"),
    "INT8": np.dtype("i1"),
    "UINT64": np.dtype("<u8"),
    "UINT32": np.dtype("<u4"),
    "UINT16": np.dtype("<u2"),
    "UINT8": np.dtype("u1"),
}
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})


class BadTensor(ServiceError):
    """The tensor does not fit the model (shape, datatype, size or values): 400."""

    status = 400
    title = "Bad Request"


@dataclass(frozen=True)
class TensorSpec:
    """What one model's input tensor must hold, as arrays so checks are vectorised."""

    names: tuple[str, ...]
    types: tuple[str, ...]
    numeric: tuple[int, ...]  # the columns that hold numbers (every one but categories)
    low: np.ndarray  # per numeric column (schemas.bounds); 0 for bool features
    high: np.ndarray  # per numeric column (schemas.bounds); 1 for bool features
    whole: np.ndarray  # per numeric column: int and bool features take whole numbers only
    categories: dict[int, frozenset[str]]  # column -> allowed values

    @cached_property
    def plain(self) -> tuple[list[float], list[float], list[bool]]:
        """`low`, `high` and `whole` as Python lists, for the checks of small tensors."""
        return self.low.tolist(), self.high.tolist(), self.whole.tolist()

    @property
    def datatype(self) -> V2Datatype:
        """The input datatype the model's metadata announces."""
        return "BYTES" if self.categories else "FP64"


def _build_spec(model: ModelVersion) -> TensorSpec:
    features = model.manifest.features
    numeric = [f for f in features if f.type != "category"]
    # A bool feature takes 0 or 1: bounds [0, 1] plus the whole-number rule.
    low = [0.0 if f.type == "bool" else bounds(f)[0] for f in numeric]
    high = [1.0 if f.type == "bool" else bounds(f)[1] for f in numeric]
    return TensorSpec(
        names=tuple(f.name for f in features),
        types=tuple(f.type for f in features),
        numeric=tuple(i for i, f in enumerate(features) if f.type != "category"),
        low=np.array(low, dtype=np.float64),
        high=np.array(high, dtype=np.float64),
        whole=np.array([f.type in {"int", "bool"} for f in numeric], dtype=bool),
        categories={
            i: frozenset(f.categories or ()) for i, f in enumerate(features) if f.categories
        },
    )


# Specs by model identity; a weak reference drops the entry when the version is unloaded.
_specs: dict[int, tuple[weakref.ref[ModelVersion], TensorSpec]] = {}


def spec_of(model: ModelVersion) -> TensorSpec:
    """The model's tensor spec, built once per loaded version."""
    key = id(model)
    cached = _specs.get(key)
    if cached is not None and cached[0]() is model:
        return cached[1]
    spec = _build_spec(model)
    _specs[key] = (weakref.ref(model, lambda _: _specs.pop(key, None)), spec)
    return spec


def check_values(values: np.ndarray, spec: TensorSpec) -> None:
    """Refuse non-finite, out-of-bounds or fractional values (one column per numeric feature)."""
    # One combined pass on the hot path; the slower diagnosis runs only for a bad tensor.
    fine = np.isfinite(values) & (values >= spec.low) & (values <= spec.high)
    if spec.whole.any():
        fine &= ~spec.whole | (values == np.round(values))
    if not fine.all():
        _refuse(values, spec)


def _refuse(values: np.ndarray, spec: TensorSpec) -> None:
    problems = (
        (~np.isfinite(values), "is not a finite number"),
        (values < spec.low, "is below the minimum {low}"),
        (values > spec.high, "is above the maximum {high}"),
        (spec.whole & (values != np.round(values)), "is not a whole number"),
    )
    for bad, reason in problems:
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            name = spec.names[spec.numeric[column]]
            why = reason.format(low=spec.low[column], high=spec.high[column])
            raise BadTensor(f"Row {row}, feature {name}: {values[row, column]} {why}.")


def check_datatype(datatype: str, spec: TensorSpec) -> None:
    """Refuse a datatype the model cannot take, saying which it can."""
    if spec.categories and datatype != "BYTES":
        names = ", ".join(spec.names[i] for i in sorted(spec.categories))
        raise BadTensor(
            f"This model has category features ({names}): send one BYTES tensor whose "
            f"elements are the values written as strings, not {datatype}."
        )
    if not spec.categories and datatype not in NUMERIC_DATATYPES:
        accepted = ", ".join(NUMERIC_DATATYPES)
        raise BadTensor(f"This model takes one {accepted} tensor, not {datatype}.")


def rows_from_numbers(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """A numeric `[rows, n_features]` tensor as the float64 rows the estimator takes."""
    rows = values.astype(np.float64, copy=False)  # FP32 and INT64 always fit
    check_values(rows, spec)
    return rows


def rows_from_strings(cells: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """A BYTES `[rows, n_features]` tensor of strings as the object rows the estimator takes."""
    rows = np.empty(cells.shape, dtype=object)
    if spec.numeric:
        values = np.column_stack([parse_column(cells[:, i], spec, i) for i in spec.numeric])
        check_values(values, spec)
        for position, column in enumerate(spec.numeric):
            rows[:, column] = typed_column(values[:, position], spec.types[column])
    for column, allowed in spec.categories.items():
        rows[:, column] = category_column(cells[:, column], spec.names[column], allowed)
    return rows


def parse_column(cells: np.ndarray, spec: TensorSpec, column: int) -> np.ndarray:
    """One numeric or bool feature's cells, written as strings, as float64."""
    name = spec.names[column]
    if spec.types[column] == "bool":
        words = np.char.lower(np.char.strip(cells.astype(str)))
        known = np.isin(words, list(TRUE_WORDS | FALSE_WORDS))
        if not known.all():
            row = int(np.argmin(known))
            raise BadTensor(f"Row {row}, feature {name}: {str(cells[row])!r} is not true or false.")
        return np.isin(words, list(TRUE_WORDS)).astype(np.float64)
    try:
        return cells.astype(str).astype(np.float64)
    except ValueError:
        raise BadTensor(
            f"Feature {name}: every value must be a number written as a string."
        ) from None


def typed_column(values: np.ndarray, kind: str) -> np.ndarray:
    """Checked float64 values as the feature's type in an object row (bool, int or float)."""
    if kind == "bool":
        return values.astype(bool)
    if kind == "int":  # Python ints, as the friendly API gives: exact at any size
        return np.array([int(value) for value in values.tolist()], dtype=object)
    return values


def category_column(cells: np.ndarray, name: str, allowed: frozenset[str]) -> np.ndarray:
    """One category feature's cells, each one of `allowed`."""
    words = cells.astype(str)
    known = np.isin(words, list(allowed))
    if not known.all():
        row = int(np.argmin(known))
        choices = ", ".join(sorted(allowed))
        raise BadTensor(f"Row {row}, feature {name}: {str(words[row])!r} is not one of {choices}.")
    return words.astype(object)
