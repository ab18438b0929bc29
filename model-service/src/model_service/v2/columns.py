"""One input tensor per feature, named after it, as MLServer's pandas codec takes a DataFrame.

Each input is named by the feature's wire name or the column the model was fitted with, has
shape `[rows]` or `[rows, 1]` and its own datatype: FP64, FP32 or INT* for numbers (BYTES
holding numbers written as strings too), BOOL (or 0/1) for bool features, BYTES for category
features. So mixed types travel as themselves, not packed into one BYTES tensor. Values are
checked as in the single-tensor form (tensors.py): bounds, whole numbers, known categories.
"""

from collections.abc import Sequence

import numpy as np

from model_service.errors import InvalidInput
from model_service.models.registry import ModelVersion
from model_service.v2.codec import tensor_array
from model_service.v2.request import Tensor
from model_service.v2.tensors import (
    NUMERIC_DATATYPES,
    BadTensor,
    TensorSpec,
    category_column,
    check_values,
    parse_column,
    spec_of,
    typed_column,
)
from shared_schemas.problems import FieldError

Part = memoryview | None


def feature_rows(
    model: ModelVersion,
    inputs: Sequence[Tensor],
    parts: Sequence[Part],
    max_rows: int,
) -> np.ndarray:
    """The rows the estimator takes, from one input per feature."""
    spec = spec_of(model)
    given = _by_feature(model, inputs, parts)
    rows = _row_count(inputs, max_rows)
    columns = [_numbers(*given[column], spec, column) for column in spec.numeric]
    values = np.column_stack(columns) if columns else np.empty((rows, 0))
    check_values(values, spec)
    if not spec.categories:
        return values
    table = np.empty((rows, len(spec.names)), dtype=object)
    for position, column in enumerate(spec.numeric):
        table[:, column] = typed_column(values[:, position], spec.types[column])
    for column, allowed in spec.categories.items():
        tensor, part = given[column]
        if tensor.datatype != "BYTES":
            raise BadTensor(
                f"Input {tensor.name}: a category feature takes BYTES, not {tensor.datatype}."
            )
        table[:, column] = category_column(_flat(tensor, part), spec.names[column], allowed)
    return table


def _by_feature(
    model: ModelVersion, inputs: Sequence[Tensor], parts: Sequence[Part]
) -> dict[int, tuple[Tensor, Part]]:
    names = model.schemas.names
    order = {name: index for index, name in enumerate(names.wire)}
    given: dict[int, tuple[Tensor, Part]] = {}
    for tensor, part in zip(inputs, parts, strict=True):
        wire = names.known.get(tensor.name)
        if wire is None:
            raise BadTensor(
                f"Input {tensor.name[:100]!r} names no feature. Send one input per feature "
                f"({names.describe()}), or one input of shape [rows, {len(names.wire)}]."
            )
        if order[wire] in given:
            raise BadTensor(f"Feature {wire} is given by two inputs.")
        given[order[wire]] = (tensor, part)
    missing = [name for name in names.wire if order[name] not in given]
    if missing:
        raise BadTensor(f"One input per feature: missing {', '.join(missing)}.")
    return given


def _row_count(inputs: Sequence[Tensor], max_rows: int) -> int:
    rows = inputs[0].shape[0] if inputs[0].shape else 0
    for tensor in inputs:
        if tensor.shape not in ([rows], [rows, 1]) or rows < 1:
            raise BadTensor(
                f"Input {tensor.name}: shape must be [rows] or [rows, 1] with the same rows "
                f"(>= 1) for every feature; got {tensor.shape}, and {rows} rows before."
            )
    if rows > max_rows:
        error = FieldError(
            loc=["body", "inputs", 0, "shape", 0],
            msg=f"at most {max_rows} rows",
            type="too_long",
        )
        raise InvalidInput(f"At most {max_rows} rows per request.", errors=[error])
    return rows


def _flat(tensor: Tensor, part: Part) -> np.ndarray:
    return tensor_array(tensor, part).reshape(-1)


def _numbers(tensor: Tensor, part: Part, spec: TensorSpec, column: int) -> np.ndarray:
    """A numeric or bool feature's values as float64."""
    if tensor.datatype == "BYTES":
        return parse_column(_flat(tensor, part), spec, column)
    if tensor.datatype in NUMERIC_DATATYPES or tensor.datatype == "BOOL":
        return _flat(tensor, part).astype(np.float64)
    raise BadTensor(f"Input {tensor.name}: datatype {tensor.datatype} is not accepted.")
