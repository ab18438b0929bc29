"""The prediction endpoints as plain ASGI, in front of FastAPI's router.

FastAPI's generic machinery (routing, dependencies, exception middlewares) costs more per
request than validating and batching a one-row prediction (measured at ~5x the
HTTP floor). `POST /models/{name}[/versions/{version}]/predict` and `.../invocations` (MLflow's
scoring protocol, answered as `mlflow models serve` answers) are served here alone, inside the
shared ServiceMiddleware (request id, internal-token guard, access log): it asks the data plane
and renders its errors as problem+json. What the router answered for these paths, it answers
too: 405 allowing POST for another method, a redirect for trailing slashes. The OpenAPI
document describes them per model (openapi.py).
"""

import re

from starlette.datastructures import URL
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from model_service.deps import state_of
from model_service.formats.csvbody import CSV_MEDIA_TYPE
from servir_runtime.bodies import media_type, read_body, require_json
from servir_runtime.problems import ServiceError, problem_response

# Name, version (or None), the operation and any trailing slashes.
PREDICT = re.compile(r"^/models/([^/]+)(?:/versions/([^/]+))?/(predict|invocations)(/*)$")
JSON = "application/json"
CSV = frozenset({CSV_MEDIA_TYPE})
ALLOW = {"Allow": "POST"}


class PredictFastPath:
    """Serves the predict paths without FastAPI's router; everything else passes through."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a predict path, or hand the request on."""
        match = PREDICT.match(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        if match.group(4):
            response: Response = _without_slashes(scope)
        elif scope["method"] != "POST":
            response = _not_allowed(scope)
        else:
            name, version, operation = match.group(1, 2, 3)
            mlflow = operation == "invocations"
            response = await self._predict(scope, receive, name, version, mlflow=mlflow)
        await response(scope, receive, send)

    async def _predict(
        self, scope: Scope, receive: Receive, name: str, version: str | None, *, mlflow: bool
    ) -> Response:
        plane = state_of(scope["app"]).plane
        try:
            model = plane.model(name, version)
            content_type = _content_type(scope)
            require_json(content_type, also=CSV)
            csv = media_type(content_type) == CSV_MEDIA_TYPE
            body = await read_body(
                scope, receive, limit=self.max_body_bytes, setting="MODEL_MAX_BODY_BYTES"
            )
            answer = await plane.predict(model, body, csv=csv, mlflow=mlflow)
            return Response(answer, media_type=JSON)
        except ServiceError as exc:
            return exc.response(scope["path"])


def _content_type(scope: Scope) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), None)


def _without_slashes(scope: Scope) -> Response:
    """307 to the path without its trailing slashes, as Starlette's router redirects."""
    target = {**scope, "path": scope["path"].rstrip("/")}
    return RedirectResponse(url=str(URL(scope=target)))


def _not_allowed(scope: Scope) -> Response:
    """405 allowing POST, as the router's problem handler answers for a method a path lacks."""
    method, path = scope["method"], scope["path"]
    detail = f"{method} is not allowed on {path}."
    return problem_response(status=405, detail=detail, instance=path, headers=ALLOW)
