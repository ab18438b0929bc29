"""Forwarding as plain ASGI, in front of FastAPI's router.

Every forwarded request would otherwise pay for FastAPI's routing, dependency resolution and
exception middlewares before a single byte goes upstream. Forwarded paths are served here,
inside the shared ServiceMiddleware (request id, access log), with the same `forward` the
routes use; methods the gateway does not forward fall through to the router (405 + Allow).
"""

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.routes import FORWARDED_METHODS, forward
from gateway.upstream import Upstream
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


class ForwardFastPath:
    """Serves forwarded paths without FastAPI's router; everything else passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        async def read_body() -> bytes:
            chunks: list[bytes] = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    return b"".join(chunks)

        try:
            response = await forward(
                scope,
                read_body,
                upstream=upstream,
                settings=state.settings,
                authenticator=state.authenticator,
            )
        except ServiceError as exc:
            response = exc.response(scope["path"])
        await response(scope, receive, send)
