"""Bodies for the Open Inference Protocol's infer: given as tensors, or a table of rows."""

from collections.abc import Mapping, Sequence
from typing import Any

from servir.client.rows import is_array, is_frame, native
from servir.errors import ServirError
from shared_schemas.inference import V2Datatype, V2InferenceRequest, V2RequestInput


def infer_body(inputs: object, outputs: Sequence[str] | None) -> dict[str, Any]:
    """The request: `inputs` is a whole V2 request, a list of input tensors (contracts or
    dicts), or a 2-D table (rows of values, a numpy array) sent as the tensor `input`."""
    if isinstance(inputs, V2InferenceRequest):
        request = inputs
    elif isinstance(inputs, Mapping) and "inputs" in inputs:
        request = V2InferenceRequest.model_validate(dict(inputs), strict=False)
    else:
        request = V2InferenceRequest(inputs=_tensors(inputs))
    body = request.model_dump(mode="json", exclude_none=True)
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


def _tensors(inputs: object) -> list[V2RequestInput]:
    if is_frame(inputs):
        raise ServirError(
            "infer takes rows of values in feature order: use predict for a DataFrame"
        )
    table = inputs.tolist() if is_array(inputs) else inputs  # type: ignore[attr-defined]
    if not isinstance(table, Sequence) or isinstance(table, str) or not table:
        raise ServirError("infer needs input tensors or a non-empty 2-D table of rows")
    if all(isinstance(item, V2RequestInput | Mapping) for item in table):
        return [
            item
            if isinstance(item, V2RequestInput)
            else V2RequestInput.model_validate(dict(item), strict=False)
            for item in table
        ]
    return [_table_tensor(table)]


def _table_tensor(table: Sequence[Any]) -> V2RequestInput:
    width = len(table[0]) if isinstance(table[0], Sequence) else -1
    if width < 1 or any(not isinstance(row, Sequence) or len(row) != width for row in table):
        raise ServirError("infer's table must be rows of the same number of values")
    data = [
        native(value, index, f"column {column}")
        for index, row in enumerate(table)
        for column, value in enumerate(row)
    ]
    datatype: V2Datatype
    if any(isinstance(value, str) for value in data):
        datatype, data = "BYTES", [str(value) for value in data]
    elif all(isinstance(value, int) and not isinstance(value, bool) for value in data):
        datatype = "INT64"
    else:
        datatype, data = "FP64", [float(value) for value in data]
    return V2RequestInput(name="input", shape=[len(table), width], datatype=datatype, data=data)
