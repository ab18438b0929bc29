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

from model_service.errors import TooLarge
from model_service.registry import Registry
from model_service.routes.models import predict_with
from shared_schemas.runtime.problems import ServiceError

PREDICT = re.compile(r"^/models/([^/]+)(?:/versions/([^/]+))?/predict$")
JSON = "application/json"


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than `limit` bytes (413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The body exceeds {limit} bytes (MODEL_MAX_BODY_BYTES).")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


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
            body = await read_body(receive, self.max_body_bytes)
            response = Response(await predict_with(model, body, registry.metrics), media_type=JSON)
        except ServiceError as exc:
            response = exc.response(scope["path"])
        await response(scope, receive, send)
