"""The prediction hot path as plain ASGI, in front of FastAPI's router.

FastAPI's generic machinery (routing, dependencies, exception middlewares) costs more per
request than validating and batching a one-row prediction; PERFORMANCE.md measured it at ~5x the
HTTP floor. `POST /models/{name}[/versions/{version}]/predict` is served here, inside the shared
ServiceMiddleware (request id, internal-token guard, access log), with the same domain code and
error bodies as the FastAPI route, which stays for the OpenAPI document.
"""

import re

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from model_service.registry import Registry
from model_service.routes.models import predict_with
from servir_runtime.bodies import read_body, require_json
from servir_runtime.problems import ServiceError

PREDICT = re.compile(r"^/models/([^/]+)(?:/versions/([^/]+))?/predict$")
JSON = "application/json"


class PredictFastPath:
    """Serves predictions without FastAPI's router; everything else passes through."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a predict request, or hand the request on."""
        match = PREDICT.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        registry: Registry = scope["app"].state.registry
        try:
            model = registry.get(match.group(1), match.group(2))
            require_json(_content_type(scope))
            body = await read_body(
                scope, receive, limit=self.max_body_bytes, setting="MODEL_MAX_BODY_BYTES"
            )
            response = Response(await predict_with(model, body, registry.metrics), media_type=JSON)
        except ServiceError as exc:
            response = exc.response(scope["path"])
        await response(scope, receive, send)


def _content_type(scope: Scope) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), None)
