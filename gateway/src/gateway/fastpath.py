"""Forwarding as plain ASGI, in front of FastAPI's router.

Every forwarded request would otherwise pay for FastAPI's routing, dependency resolution and
exception middlewares before a single byte goes upstream. Forwarded paths are served here,
inside the shared ServiceMiddleware (request id, access log), with the same `forward` the
routes use; methods the gateway does not forward fall through to the router (405 + Allow).
"""

from functools import partial

from starlette.datastructures import State
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.config import Settings
from gateway.errors import Overloaded
from gateway.proxy import BodyReader, Proxy
from gateway.routes import FORWARDED_METHODS
from gateway.upstream import Upstream
from shared_schemas.runtime.bodies import read_body
from shared_schemas.runtime.problems import ServiceError

METHODS = frozenset(FORWARDED_METHODS)
JWKS = "/.well-known/jwks.json"


def upstream_for(path: str, state: State) -> Upstream | None:
    """The upstream a public path belongs to, or None for the gateway's own routes."""
    if path.startswith("/auth/") or path == JWKS:
        auth: Upstream = state.auth_upstream
        return auth
    if path in {"/models", "/v2"} or path.startswith(("/models/", "/v2/")):
        model: Upstream = state.model_upstream
        return model
    return None


def body_reader(scope: Scope, receive: Receive, settings: Settings) -> BodyReader:
    """Reads the body as it streams in, refusing it (413) before reading past its limit.

    Uploads of bundles (`POST /models`) have their own, larger limit.
    """
    upload = scope["method"] == "POST" and scope["path"] == "/models"
    limit = settings.max_upload_bytes if upload else settings.max_body_bytes
    setting = "GATEWAY_MAX_UPLOAD_BYTES" if upload else "GATEWAY_MAX_BODY_BYTES"
    return partial(read_body, scope, receive, limit=limit, setting=setting)


class ForwardFastPath:
    """Serves forwarded paths without FastAPI's router; everything else passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward a public path, or hand the request on."""
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        upstream = upstream_for(scope["path"], state)
        if upstream is None:
            await self.app(scope, receive, send)
            return
        settings: Settings = state.settings
        self.in_flight += 1
        try:
            response = await self._forward(scope, receive, upstream, settings, state.proxy)
        except ServiceError as exc:
            response = exc.response(scope["path"])
        finally:
            self.in_flight -= 1
        await response(scope, receive, send)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        upstream: Upstream,
        settings: Settings,
        proxy: Proxy,
    ) -> Response:
        if self.in_flight > settings.max_in_flight:
            proxy.metrics.shed()
            detail = "The gateway is at capacity; retry shortly."
            raise Overloaded(detail, retry_after=settings.retry_after_seconds)
        return await proxy.forward(scope, body_reader(scope, receive, settings), upstream)
