"""The model-service's application factory."""

from fastapi import FastAPI

from model_service.config import Settings
from model_service.routes import router
from shared_schemas.runtime.app import build_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the model-service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    app = build_service_app(
        service="model-service", title="Servir model-service", settings=settings, internal=True
    )
    app.include_router(router)
    return app
