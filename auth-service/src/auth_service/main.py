"""The auth-service's application factory."""

from fastapi import FastAPI

from auth_service.config import Settings
from auth_service.routes import router
from shared_schemas.runtime.app import build_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the auth-service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    app = build_service_app(
        service="auth-service", title="Servir auth-service", settings=settings, internal=True
    )
    app.include_router(router)
    return app
