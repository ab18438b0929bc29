"""The auth-service's application factory."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from auth_service.bootstrap import ensure_admin_until_done
from auth_service.config import Settings
from auth_service.errors import install_auth_errors
from auth_service.passwords import Passwords
from auth_service.revocations import announce_signing_keys
from auth_service.routes import router
from auth_service.signing import load_key_ring
from servir_runtime.app import build_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the auth-service; keys load and the admin is ensured when the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.keys = load_key_ring(settings)
        app.state.passwords = Passwords(settings)
        await announce_signing_keys(app.state.redis)
        bootstrap = asyncio.create_task(
            ensure_admin_until_done(
                app.state.redis, settings=settings, passwords=app.state.passwords
            )
        )
        app.state.bootstrap = bootstrap
        try:
            yield
        finally:
            bootstrap.cancel()
            with suppress(asyncio.CancelledError):
                await bootstrap

    app = build_service_app(
        service="auth-service",
        title="Servir auth-service",
        settings=settings,
        internal=True,
        lifespan=lifespan,
    )
    install_auth_errors(app)
    app.include_router(router)
    return app
