"""The gateway as served: a plain ASGI app wrapping the FastAPI app.

Every forwarded request would otherwise pay for FastAPI's middlewares (error, telemetry,
body limit, exception, exit stack), routing and dependency resolution before a single byte
goes upstream. The edge sends forwarded paths (the route table says which) down a lean chain
of its own: the shared ServiceMiddleware (request id, access log, metrics, last-resort 500),
CORS when configured, then `Forwarder`. Everything else (the gateway's own routes, methods it
does not forward, which get 405 + Allow, and the lifespan) goes to the FastAPI app.
"""

from functools import partial

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.config import Settings
from gateway.cors import cors_options
from gateway.deps import gateway_state
from gateway.errors import Overloaded, error_response
from gateway.metrics import GatewayMetrics
from gateway.routing.lookup import TABLE, Place
from gateway.routing.table import AUTH, FORWARDED_METHODS, Budget
from gateway.state import GatewayState
from gateway.upstreams.proxy import BodyReader, Proxy
from gateway.upstreams.upstream import Upstream
from servir_runtime.bodies import read_body
from servir_runtime.middleware import ServiceMiddleware
from servir_runtime.problems import ServiceError

METHODS = frozenset(FORWARDED_METHODS)


def upstream_for(place: Place, state: GatewayState) -> Upstream:
    """The upstream a forwarded path belongs to."""
    return state.auth_upstream if place.upstream == AUTH else state.model_upstream


def body_reader(scope: Scope, receive: Receive, budget: Budget, settings: Settings) -> BodyReader:
    """Reads the body as it streams in, refusing it (413) before reading past its limit
    (the route's budget: uploads of bundles have their own, larger one)."""
    limit = budget.body_limit(settings)
    return partial(read_body, scope, receive, limit=limit, setting=budget.setting)


class Forwarder:
    """Forwards one request on a public path; beyond `max_in_flight` it sheds (503).

    A request does not count while its body is still arriving: a slow client must not take
    the budget of those whose bodies are in (the connection's body deadline bounds it).
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app  # whose lifespan builds the state
        # Read once per lifespan, not per request: the typed accessor costs about a microsecond.
        self.state: GatewayState | None = None
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward, then relay the upstream's answer (or an error as problem+json)."""
        state = self.state
        if state is None:
            state = self.state = gateway_state(self.app)
        settings, proxy = state.settings, state.proxy
        self.in_flight += 1
        try:
            self._admit(settings, proxy)
            place = TABLE.place(scope["path"])
            budget = place.budget(scope["method"])
            reader = body_reader(scope, receive, budget, settings)
            read = partial(self._read_uncounted, reader, settings, proxy)
            timeout = budget.upstream_deadline(settings)
            reply = await proxy.forward(scope, read, upstream_for(place, state), timeout=timeout)
        except ServiceError as exc:
            response = error_response(exc, method=scope["method"], path=scope["path"])
            await response(scope, receive, send)
            return
        finally:
            self.in_flight -= 1
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        )
        await send({"type": "http.response.body", "body": reply.body})

    async def _read_uncounted(self, read: BodyReader, settings: Settings, proxy: Proxy) -> bytes:
        """The body, read outside the budget; shed if the budget is full once it is in."""
        self.in_flight -= 1
        try:
            body = await read()
        finally:
            self.in_flight += 1
        self._admit(settings, proxy)
        return body

    def _admit(self, settings: Settings, proxy: Proxy) -> None:
        if self.in_flight > settings.max_in_flight:
            proxy.metrics.shed()
            detail = "The gateway is at capacity; retry shortly."
            raise Overloaded(detail, retry_after=settings.retry_after_seconds)


class Edge:
    """Sends forwarded requests down the lean chain, everything else to the FastAPI app
    (reachable as `app`, e.g. for its OpenAPI document or its state in tests)."""

    def __init__(self, app: FastAPI, *, settings: Settings, metrics: GatewayMetrics) -> None:
        self.app = app
        self.forwarder = Forwarder(app)
        self.lean = lean_chain(self.forwarder, settings=settings, metrics=metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request (or lifespan event) to its chain."""
        if (
            scope["type"] == "http"
            and scope["method"] in METHODS
            and TABLE.place(scope["path"]).forwarded
        ):
            await self.lean(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            self.forwarder.state = None  # a new lifespan builds a new state
        await self.app(scope, receive, send)


def lean_chain(forwarder: Forwarder, *, settings: Settings, metrics: GatewayMetrics) -> ASGIApp:
    """The forwarded requests' chain: shared middleware, CORS when configured, `forwarder`."""
    lean: ASGIApp = forwarder
    if settings.cors_origins:
        lean = CORSMiddleware(lean, **cors_options(settings))
    return ServiceMiddleware(
        lean, access_log_sample=settings.access_log_sample, observe=metrics.observe_request
    )
