"""Open Inference Protocol v2 for one model: its metadata, and inference (JSON or binary).

Contract: one input (`input` in the metadata; any name is taken, as MLServer and KServe take
it) of shape `[rows, n_features]` (see `tensors` for datatypes), or one input per feature
named after it (see `columns`);
outputs `predict` (always, unless `outputs` names only others) and `predict_proba` (when
asked, classifiers only). Tensor problems are 400, body schema problems 422, more rows than
`MODEL_MAX_ROWS` 422; the model failing on rows that fit is 500 (Model error).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from model_service.errors import InvalidInput
from model_service.metrics import ModelMetrics
from model_service.models.registry import ModelVersion
from model_service.v2.codec import OutputTensor, binary_parts, render, split_body, tensor_array
from model_service.v2.columns import feature_rows
from model_service.v2.request import Request, Tensor, parse_request
from model_service.v2.small import small_rows
from model_service.v2.tensors import (
    BadTensor,
    check_datatype,
    rows_from_numbers,
    rows_from_strings,
    spec_of,
)
from shared_schemas.inference import V2Datatype, V2ModelMetadata, V2TensorMetadata
from shared_schemas.problems import FieldError

# Told a version, its rows and its predictions once a request's are in (shadow traffic).
After = Callable[[ModelVersion, np.ndarray, np.ndarray], None] | None
INPUT = "input"
PREDICT = "predict"
PROBA = "predict_proba"


def model_metadata(model: ModelVersion, versions: list[str]) -> V2ModelMetadata:
    """The model's tensors as the protocol describes them."""
    features = len(model.manifest.features)
    outputs = [V2TensorMetadata(name=PREDICT, datatype=_label_datatype(model), shape=[-1])]
    if model.has_proba:
        width = len(model.classes) if model.classes is not None else -1
        outputs.append(V2TensorMetadata(name=PROBA, datatype="FP64", shape=[-1, width]))
    tensor = V2TensorMetadata(name=INPUT, datatype=spec_of(model).datatype, shape=[-1, features])
    return V2ModelMetadata(
        name=model.manifest.name,
        versions=versions,
        platform=model.runtime.platform,
        inputs=[tensor],
        outputs=outputs,
    )


def _label_datatype(model: ModelVersion) -> V2Datatype:
    classes = model.classes
    if classes is None:  # a regressor
        return "FP64"
    if all(isinstance(label, bool) for label in classes):
        return "BOOL"
    if all(isinstance(label, int) and not isinstance(label, bool) for label in classes):
        return "INT64"
    if all(isinstance(label, int | float) for label in classes):
        return "FP64"
    return "BYTES"


@dataclass(frozen=True)
class InferCall:
    """One inference request as the route received it."""

    body: bytes
    header_length: str | None
    request_id: str
    max_rows: int
    after: "After" = None  # told the rows and the predictions once they are in (shadows)


async def infer(
    model: ModelVersion, call: InferCall, metrics: ModelMetrics
) -> tuple[bytes, dict[str, str]]:
    """Decode, predict (batched) and render: the response body and its headers."""
    header, binary = split_body(call.body, call.header_length)
    request = parse_request(header)
    wanted = _wanted_outputs(request, model)
    parts = binary_parts(request.inputs, binary)
    if _one_tensor(model, request.inputs):
        rows = _rows(model, request.inputs[0], parts[0], call.max_rows)
    else:
        rows = feature_rows(model, request.inputs, parts, call.max_rows)
    if model.training_range is not None:
        metrics.count_out_of_range(*_labels(model), rows, model.training_range)
    # The model failing on these rows is its own fault: ModelError, a 500 (as on /predict).
    predictions, probabilities = await model.queue.submit(rows, proba=PROBA in wanted)
    if call.after is not None:
        call.after(model, rows, predictions)
    values = {PREDICT: predictions, PROBA: probabilities}
    head = {
        "model_name": model.manifest.name,
        "model_version": model.manifest.version,
        "id": request.id if request.id is not None else call.request_id,
    }
    outputs = [
        OutputTensor(name, np.asarray(values[name]), binary) for name, binary in wanted.items()
    ]
    return render(head, outputs)


def _one_tensor(model: ModelVersion, inputs: Sequence[Tensor]) -> bool:
    """One input of shape [rows, n_features], under any name (as MLServer and KServe take
    it); else one input per feature. A lone input named after the only feature is the latter
    (it may then be [rows])."""
    if len(inputs) != 1:
        return False
    names = model.schemas.names
    return not (len(names.wire) == 1 and inputs[0].name in names.known)


def _labels(model: ModelVersion) -> tuple[str, str]:
    return model.manifest.name, model.manifest.version


def _flag(parameters: Mapping[str, object] | None, key: str, default: bool) -> bool:
    value = (parameters or {}).get(key, default)
    if not isinstance(value, bool):
        raise BadTensor(f"Parameter {key} must be true or false.")
    return value


def _wanted_outputs(request: Request, model: ModelVersion) -> dict[str, bool]:
    """Output name -> binary, in the order asked; `predict` alone when none are named."""
    default = _flag(request.parameters, "binary_data_output", False)
    if not request.outputs:
        return {PREDICT: default}
    known = [PREDICT, PROBA] if model.has_proba else [PREDICT]
    wanted: dict[str, bool] = {}
    for output in request.outputs:
        if output.name not in known or output.name in wanted:
            raise BadTensor(f"Unknown or repeated output {output.name!r}; this model has {known}.")
        if "classification" in (output.parameters or {}):
            raise BadTensor("The classification extension is not supported.")
        wanted[output.name] = _flag(output.parameters, "binary_data", default)
    return wanted


def _rows(
    model: ModelVersion, tensor: Tensor, part: memoryview | None, max_rows: int
) -> np.ndarray:
    spec = spec_of(model)
    width = len(spec.names)
    if len(tensor.shape) != 2 or tensor.shape[1] != width or tensor.shape[0] < 1:
        raise BadTensor(
            f"Input {tensor.name[:100]} must have shape [rows, {width}] (rows >= 1, one column "
            f"per feature in the model's order); got {tensor.shape}. Or send one input per "
            f"feature, named after it: {', '.join(spec.names)}."
        )
    if tensor.shape[0] > max_rows:
        error = FieldError(
            loc=["body", "inputs", 0, "shape", 0],
            msg=f"at most {max_rows} rows",
            type="too_long",
        )
        raise InvalidInput(f"At most {max_rows} rows per request.", errors=[error])
    check_datatype(tensor.datatype, spec)
    if part is None and (small := small_rows(tensor, spec)) is not None:
        return small
    values = tensor_array(tensor, part)
    if tensor.datatype == "BYTES":
        return rows_from_strings(values, spec)
    return rows_from_numbers(values, spec)
