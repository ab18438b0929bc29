"""The prediction endpoints as plain ASGI, in front of FastAPI's router.

FastAPI's generic machinery (routing, dependencies, exception middlewares) costs more per
request than validating and batching a one-row prediction (measured at ~5x the
HTTP floor). `POST /models/{name}[/versions/{version}]/predict` and `.../invocations` (MLflow's
scoring protocol, answered as `mlflow models serve` answers), and the Open Inference Protocol's
`POST /v2/models/{name}[/versions/{version}]/infer` (JSON or binary tensors) are served here
alone, inside the shared ServiceMiddleware (request id, internal-token guard, access log): it
asks the data plane and renders its errors as problem+json. What the router answered for these
paths, it answers too: 405 allowing POST for another method, a redirect for trailing slashes.
The OpenAPI document describes the predict paths per model (openapi.py) and the infer paths by
their FastAPI routes (routes/v2.py), which answer through `infer_response` here too.
"""

import re

from starlette.datastructures import URL
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from model_service.deps import state_of
from model_service.formats.csvbody import CSV_MEDIA_TYPE
from model_service.v2.codec import BINARY_MEDIA_TYPE, UnsupportedEncoding
from servir_runtime.bodies import media_type, read_body, require_json
from servir_runtime.problems import ServiceError, problem_response

# Name, version (or None), the operation and any trailing slashes.
PREDICT = re.compile(r"^/models/([^/]+)(?:/versions/([^/]+))?/(predict|invocations)(/*)$")
INFER = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?/(infer)(/*)$")
JSON = "application/json"
CSV = frozenset({CSV_MEDIA_TYPE})
# The binary tensor extension's bodies, and stock clients (tritonclient) that send no type.
V2_BODY_TYPES = frozenset({"", BINARY_MEDIA_TYPE})
ALLOW = {"Allow": "POST"}
LIMIT_SETTING = "MODEL_MAX_BODY_BYTES"
INFER_HEADERS = (b"content-encoding", b"content-type", b"inference-header-content-length")


class PredictFastPath:
    """Serves the predict and infer paths without FastAPI's router; the rest passes through."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a predict or infer path, or hand the request on."""
        match = None
        if scope["type"] == "http":
            path = scope["path"]
            match = (INFER if path.startswith("/v2/") else PREDICT).match(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        name, version, operation, slashes = match.group(1, 2, 3, 4)
        if slashes:
            response: Response = _without_slashes(scope)
        elif scope["method"] != "POST":
            response = _not_allowed(scope)
        elif operation == "infer":
            response = await infer_response(scope, receive, name, version, self.max_body_bytes)
        else:
            mlflow = operation == "invocations"
            response = await self._predict(scope, receive, name, version, mlflow=mlflow)
        await response(scope, receive, send)

    async def _predict(
        self, scope: Scope, receive: Receive, name: str, version: str | None, *, mlflow: bool
    ) -> Response:
        plane = state_of(scope["app"]).plane
        try:
            model = plane.model(name, version, scope=scope)
            content_type = _header(scope, b"content-type")
            require_json(content_type, also=CSV)
            csv = media_type(content_type) == CSV_MEDIA_TYPE
            body = await read_body(scope, receive, limit=self.max_body_bytes, setting=LIMIT_SETTING)
            split = version is None and "@" not in name
            answer = await plane.predict(model, body, csv=csv, mlflow=mlflow, split=split)
            return Response(answer, media_type=JSON)
        except ServiceError as exc:
            return exc.response(scope["path"])


async def infer_response(
    scope: Scope, receive: Receive, name: str, version: str | None, max_body_bytes: int
) -> Response:
    """An Open Inference Protocol inference (JSON or binary tensors) and its answer or problem."""
    plane = state_of(scope["app"]).plane
    encoding, content_type, header_length = _headers(scope, INFER_HEADERS)
    try:
        encoding = (encoding or "identity").strip().lower()
        if encoding not in {"identity", ""}:
            detail = f"Content-Encoding {encoding} is not supported; send it plain."
            raise UnsupportedEncoding(detail)
        model = plane.model(name, version, scope=scope)
        require_json(content_type, also=V2_BODY_TYPES)
        body = await read_body(scope, receive, limit=max_body_bytes, setting=LIMIT_SETTING)
        answer, headers = await plane.infer(
            model,
            body,
            header_length=header_length,
            request_id=scope["state"]["request_id"],
            split=version is None,
        )
        return Response(answer, headers=headers)
    except ServiceError as exc:
        return exc.response(scope["path"])


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header (`name` in lower case), as Starlette's `Headers.get`."""
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), None)


def _headers(scope: Scope, names: tuple[bytes, ...]) -> list[str | None]:
    """The first value of each header in `names` (lower case), in one pass over the headers."""
    found: dict[bytes, str | None] = dict.fromkeys(names)
    for key, value in scope["headers"]:
        if key in found and found[key] is None:
            found[key] = value.decode("latin-1")
    return list(found.values())


def _without_slashes(scope: Scope) -> Response:
    """307 to the path without its trailing slashes, as Starlette's router redirects."""
    target = {**scope, "path": scope["path"].rstrip("/")}
    return RedirectResponse(url=str(URL(scope=target)))


def _not_allowed(scope: Scope) -> Response:
    """405 allowing POST, as the router's problem handler answers for a method a path lacks."""
    method, path = scope["method"], scope["path"]
    detail = f"{method} is not allowed on {path}."
    return problem_response(status=405, detail=detail, instance=path, headers=ALLOW)
