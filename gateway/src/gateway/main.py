"""The gateway's application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware

from gateway.config import Settings
from gateway.fastpath import ForwardFastPath
from gateway.routes import router
from gateway.security import running_authenticator
from gateway.transport import AiohttpTransport
from gateway.upstream import Upstream
from shared_schemas.runtime.app import build_service_app


def _client(settings: Settings) -> httpx.AsyncClient:
    transport = AiohttpTransport(max_connections=settings.upstream_max_connections)
    timeout = httpx.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds)
    # trust_env=False: upstreams come only from settings, never from proxy variables.
    client = httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)
    for name in ("accept", "accept-encoding", "user-agent", "connection"):
        del client.headers[name]  # forward the caller's own headers, none of httpx's defaults
    return client


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway; nothing connects until the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        retry_after = settings.retry_after_seconds
        async with _client(settings) as auth_client, _client(settings) as model_client:
            app.state.auth_upstream = Upstream(
                name="auth-service",
                base_url=settings.auth_service_url,
                client=auth_client,
                retry_after=retry_after,
            )
            app.state.model_upstream = Upstream(
                name="model-service",
                base_url=settings.model_service_url,
                client=model_client,
                retry_after=retry_after,
            )
            async with running_authenticator(
                settings, auth_upstream=app.state.auth_upstream, redis=app.state.redis
            ) as authenticator:
                app.state.authenticator = authenticator
                yield

    app = build_service_app(
        service="gateway", title="Servir", settings=settings, internal=False, lifespan=lifespan
    )
    app.include_router(router)
    # Innermost middleware: inside the shared one (request id, access log).
    app.user_middleware.append(Middleware(ForwardFastPath))
    return app
