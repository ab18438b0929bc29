"""Open Inference Protocol v2 model endpoints: metadata, readiness, inference.

Inference takes one input tensor of shape `[rows, n_features]` in the model's feature order,
under any name (the metadata calls it `input`): FP64, FP32 or INT64 for numeric models, BYTES
(values written as strings) for models with a category feature; or one input per feature, named
after it, each with its own datatype (MLServer's pandas codec). Outputs: `predict`, and
`predict_proba` when asked (classifiers).
JSON and Triton's binary tensor data extension are both served, by the fast path (fastpath.py)
in front of the router; the routes here describe inference in the OpenAPI document.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from model_service.config import Settings
from model_service.deps import PlaneDep, SettingsDep
from model_service.errors import EMPTY_OK, MODEL_ERROR, MODEL_LOOKUP_ERRORS
from model_service.fastpath import infer_response
from shared_schemas.inference import V2InferenceRequest, V2InferenceResponse, V2ModelMetadata
from shared_schemas.problems import PROBLEM_MEDIA_TYPE

router = APIRouter(tags=["v2"])


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """`schema` with every `#/$defs/...` reference replaced by its definition (OpenAPI has no
    `$defs` beside a request body, and these contracts are not recursive)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inlined(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {key: _inlined(value, defs) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    return schema


_REQUEST_SCHEMA = V2InferenceRequest.model_json_schema()
INFER_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "JSON, or with `Inference-Header-Content-Length` the JSON header "
        "followed by the binary tensor data (Triton's binary tensor data extension).",
        "content": {
            "application/json": {"schema": _inlined(_REQUEST_SCHEMA, _REQUEST_SCHEMA["$defs"])},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
BODY_LIMIT = Settings.model_fields["max_body_bytes"].default
PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/V2Problem"}}}
INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": PROBLEM}
    for status, description in [
        (400, "The tensor does not fit the model (shape, datatype, size, values)"),
        (404, "No such model or version"),
        (413, f"The body is larger than the limit ({BODY_LIMIT} bytes by default)"),
        (415, "A compressed body, or a Content-Type other than JSON or octet-stream"),
        (422, "The body is not an inference request, or has too many rows"),
        (500, MODEL_ERROR[500]["description"]),
        (503, "The model failed to load or overran its inference deadline (Retry-After)"),
    ]
}
READY_RESPONSES = {**EMPTY_OK, **MODEL_LOOKUP_ERRORS}


@router.get("/v2/models/{name}", responses=MODEL_LOOKUP_ERRORS)
async def v2_model_metadata(name: str, plane: PlaneDep) -> V2ModelMetadata:
    """The default version's tensors (input FP64, FP32 and INT64 accepted too; BYTES for
    category models) and every loaded version."""
    return plane.v2_metadata(name)


@router.get("/v2/models/{name}/versions/{version}", responses=MODEL_LOOKUP_ERRORS)
async def v2_model_version_metadata(name: str, version: str, plane: PlaneDep) -> V2ModelMetadata:
    """One version's input and output tensors."""
    return plane.v2_metadata(name, version)


@router.get("/v2/models/{name}/ready", response_class=Response, responses=READY_RESPONSES)
async def v2_model_ready(name: str, plane: PlaneDep) -> Response:
    """200 when the model can serve; 404 unknown, 503 failed to load."""
    plane.model(name)
    return Response(status_code=200)


@router.get(
    "/v2/models/{name}/versions/{version}/ready",
    response_class=Response,
    responses=READY_RESPONSES,
)
async def v2_model_version_ready(name: str, version: str, plane: PlaneDep) -> Response:
    """200 when this version can serve; 404 unknown, 503 failed to load."""
    plane.model(name, version)
    return Response(status_code=200)


async def _infer(request: Request, settings: Settings, name: str, version: str | None) -> Response:
    # The fast path (fastpath.py) answers these paths before the router; the same function
    # answers here, so the route and its document stay exact where the fast path is not set up.
    return await infer_response(
        request.scope, request.receive, name, version, settings.max_body_bytes
    )


@router.post(
    "/v2/models/{name}/infer",
    response_model=V2InferenceResponse,
    responses=INFER_RESPONSES,
    openapi_extra=INFER_DOC,
)
async def v2_infer(name: str, request: Request, settings: SettingsDep) -> Response:
    """Inference with the model's default (highest) version."""
    return await _infer(request, settings, name, None)


@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    response_model=V2InferenceResponse,
    responses=INFER_RESPONSES,
    openapi_extra=INFER_DOC,
)
async def v2_infer_version(
    name: str, version: str, request: Request, settings: SettingsDep
) -> Response:
    """Inference with one version of the model."""
    return await _infer(request, settings, name, version)
