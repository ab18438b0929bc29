"""The gateway's application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.middleware.cors import CORSMiddleware

from gateway.auth.authfailures import FailedAuthLimit
from gateway.auth.security import running_authenticator
from gateway.config import Settings
from gateway.cors import cors_options
from gateway.docs.current import merged_openapi
from gateway.docs.routes import router as docs_router
from gateway.edge import Edge
from gateway.limits.clientip import ClientAddress, parse_networks
from gateway.limits.ratelimit import SCRIPT, Policy, RateLimiter, RouteLimits
from gateway.metrics import GatewayMetrics, RequestMetrics, running_metrics_server
from gateway.routing.lookup import TABLE
from gateway.routing.routes import router
from gateway.routing.table import STANDARD, UPLOAD
from gateway.state import GatewayState
from gateway.transport.one_write import one_write
from gateway.transport.redis_script import ScriptClient, supports
from gateway.upstreams.proxy import Proxy
from gateway.upstreams.upstream_set import running_upstreams
from servir_runtime.app import Lifespan, build_service_app
from servir_runtime.connection_limits import ConnectionLimits
from servir_runtime.state import keep_state, service_redis
from servir_runtime.uvicorn_private import GuardedProtocol, guarded_protocol


def route_limits(settings: Settings, redis: Redis, metrics: GatewayMetrics) -> RouteLimits:
    """The rate limits of docs/api.md, or none when `GATEWAY_RATE_LIMIT_ENABLED=false`."""
    limiter = None
    if settings.rate_limit_enabled:
        url, timeout = settings.redis_url, settings.redis_timeout_seconds
        limiter = RateLimiter(
            redis,
            script=ScriptClient(url, SCRIPT, timeout=timeout) if supports(url) else None,
            max_local_keys=settings.rate_limit_max_local_keys,
            sync_seconds=settings.rate_limit_sync_ms / 1000,
            on_fallback=metrics.set_fallback,
        )
    # Only the default policy may be counted in process between reports to Redis.
    local = settings.rate_limit_local_percent if settings.rate_limit_sync_ms else 0.0
    return RouteLimits(
        limiter,
        default=Policy.parse("default", settings.rate_limit_default, local_percent=local),
        token=Policy.parse("token", settings.rate_limit_token),
        public=Policy.parse("public", settings.rate_limit_public),
    )


def failed_auth_limit(
    settings: Settings, limits: RouteLimits, metrics: GatewayMetrics
) -> FailedAuthLimit:
    """401s per client IP, counted by the same limiter (so off with it)."""
    return FailedAuthLimit(
        limits.limiter,
        Policy.parse("auth-failures", settings.rate_limit_auth_failures),
        max_blocked=settings.rate_limit_max_local_keys,
        on_refused=metrics.rate_limited,
    )


def connection_protocol(settings: Settings) -> type[GuardedProtocol]:
    """uvicorn's protocol bounding heads, bodies, connections per IP, and lingering; each answer
    in one write."""
    limits = ConnectionLimits(
        head_seconds=settings.head_timeout_seconds,
        body_seconds=STANDARD.body_deadline(settings),
        long_body_seconds=UPLOAD.body_deadline(settings),
        long_body_routes=TABLE.upload_routes(),
        max_per_ip=settings.max_connections_per_ip,
        exempt=parse_networks(settings.trusted_proxies),
        linger_seconds=settings.linger_seconds,
        linger_idle_seconds=settings.linger_idle_seconds,
        linger_max_bytes=settings.linger_max_bytes,
    )
    guarded = guarded_protocol(
        max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers, limits=limits
    )
    return one_write(guarded)


def gateway_lifespan(settings: Settings, metrics: GatewayMetrics) -> Lifespan:
    """The lifespan building the gateway's state: upstreams, authenticator, limits, documents."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            running_metrics_server(metrics, settings.host, settings.metrics_port),
            running_upstreams(settings, metrics) as both,
        ):
            redis = service_redis(app)  # the runtime's client, opened before this runs
            upstreams = {"auth": both.auth, "model": both.model}
            limits = route_limits(settings, redis, metrics)
            async with running_authenticator(
                settings,
                auth_upstream=both.auth,
                redis=redis,
                failures=failed_auth_limit(settings, limits, metrics),
            ) as authenticator:
                proxy = Proxy(
                    authenticator=authenticator,
                    limits=limits,
                    client_address=ClientAddress(parse_networks(settings.trusted_proxies)),
                    internal_token=settings.internal_token.get_secret_value(),
                    metrics=metrics,
                )
                openapi = merged_openapi(settings, own=app.openapi, upstreams=upstreams)
                state = GatewayState(settings, metrics, both.auth, both.model, openapi, proxy)
                keep_state(app, state)
                try:
                    yield
                finally:
                    if limits.limiter is not None:
                        await limits.limiter.aclose()

    return lifespan


def create_app(settings: Settings | None = None) -> Edge:
    """Build the gateway (the edge around its FastAPI app); nothing connects until the
    lifespan starts."""
    settings = settings or Settings()
    metrics = GatewayMetrics()
    app = build_service_app(
        service="gateway",
        title="Servir",
        settings=settings,
        internal=False,
        lifespan=gateway_lifespan(settings, metrics),
        default_docs=False,  # docs_router serves the merged document and Swagger UI's own files
    )
    app.include_router(router)
    app.include_router(docs_router)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **cors_options(settings))
    # Outermost: every answer counts, the shared middleware's own 401s and 500s too.
    app.add_middleware(RequestMetrics, metrics=metrics)
    # Forwarded paths skip all of the above for a lean chain of their own (edge.py).
    return Edge(app, settings=settings, metrics=metrics)
