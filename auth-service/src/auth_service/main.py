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
from auth_service.state import AuthState
from servir_runtime.app import build_service_app
from servir_runtime.state import keep_state, service_redis


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the auth-service; keys load and the admin is ensured when the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = service_redis(app)
        keys = load_key_ring(settings)
        passwords = Passwords(settings)
        await announce_signing_keys(redis)
        bootstrap = asyncio.create_task(
            ensure_admin_until_done(redis, settings=settings, passwords=passwords)
        )
        keep_state(app, AuthState(settings, keys, passwords, bootstrap))
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
