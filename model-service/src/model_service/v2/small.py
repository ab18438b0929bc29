"""Small JSON tensors checked in plain Python.

Below `SMALL` values, numpy's cost per call (about a microsecond, and the array path makes a
dozen calls) outweighs the work, and a one-row request is the common case: 19 us of a 1-row V2
request went to turning its four numbers into checked rows. What this accepts is exactly what
the array path (codec.tensor_array, then tensors.rows_from_numbers) accepts, into the same
float64 rows; what it does not accept it leaves to the array path, which words the error. FP64
and INT64 only: FP32 values are rounded to float32 first, which the array path does.
"""

from typing import Any

import numpy as np

from model_service.v2.request import Tensor
from model_service.v2.tensors import TensorSpec

SMALL = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def small_rows(tensor: Tensor, spec: TensorSpec) -> np.ndarray | None:
    """The checked float64 rows of a small numeric JSON tensor of shape [rows, n_features];
    None when the array path must decide (too big, another datatype, or anything amiss)."""
    if tensor.data is None or spec.categories or tensor.datatype not in ("FP64", "INT64"):
        return None
    rows, width = tensor.shape
    if rows * width > SMALL:
        return None
    flat = _flat(tensor.data, rows, width)
    if flat is None or not _fine(flat, width, spec, ints_only=tensor.datatype == "INT64"):
        return None
    return np.array(flat, dtype=np.float64).reshape(rows, width)


def _flat(data: list[Any], rows: int, width: int) -> list[Any] | None:
    """The values in row order, from `[v, ...]` or `[[v, ...], ...]`; None for other nestings."""
    if len(data) == rows * width and not any(type(v) is list for v in data):
        return data
    if len(data) == rows and all(type(row) is list and len(row) == width for row in data):
        return [v for row in data for v in row]
    return None


def _fine(flat: list[Any], width: int, spec: TensorSpec, *, ints_only: bool) -> bool:
    low, high, whole = spec.plain
    for index, given in enumerate(flat):
        kind = type(given)  # exact types: a bool is not a number here, as in the array path
        if kind is int:
            if not INT64_MIN <= given <= INT64_MAX:
                return False
        elif kind is not float or ints_only:
            return False
        value = float(given)
        column = index % width
        # False for NaN too; an infinity is past every bound (float32's at most).
        if not low[column] <= value <= high[column]:
            return False
        if whole[column] and value != round(value):
            return False
    return True
