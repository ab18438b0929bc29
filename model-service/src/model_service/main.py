"""The model-service's application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from fastapi import FastAPI
from starlette.middleware import Middleware

from model_service.config import Settings
from model_service.fastpath import PredictFastPath
from model_service.inference import DataPlane
from model_service.metrics import ModelMetrics
from model_service.models.registry import Registry
from model_service.models.workers import InferencePool
from model_service.openapi import ModelPaths
from model_service.repository.broadcast import follow_repository
from model_service.repository.imports import import_bundles
from model_service.repository.store import ModelStore
from model_service.routes import routers
from model_service.state import ServiceState
from servir_runtime.app import build_service_app
from servir_runtime.state import keep_state


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the model-service; bundles load when the lifespan starts."""
    settings = settings or Settings()
    app = build_service_app(
        service="model-service",
        title="Servir model-service",
        settings=settings,
        internal=True,
        lifespan=partial(serving, settings=settings),
        openapi_view=ModelPaths(),
        inner=[Middleware(PredictFastPath, max_body_bytes=settings.max_body_bytes)],
    )
    for router in routers:  # flat: nested routers cost a match per level on every request
        app.include_router(router)
    return app


@asynccontextmanager
async def serving(app: FastAPI, *, settings: Settings) -> AsyncIterator[None]:
    """The lifespan: load the bundles, follow the other replicas, keep the `ServiceState`."""
    # Daemon threads, never joined: a worker stuck in a model must not hold up shutdown.
    pool = InferencePool(settings.inference_threads)
    try:
        registry = Registry(settings, pool, ModelMetrics())
        if settings.import_dir is not None:
            store = ModelStore(settings)
            importing = partial(import_bundles, source=settings.import_dir, store=store)
            await anyio.to_thread.run_sync(importing)
        await anyio.to_thread.run_sync(registry.load_all)
        async with follow_repository(app, registry) as repository:
            state = ServiceState(
                settings=settings,
                pool=pool,
                registry=registry,
                repository=repository,
                plane=DataPlane(registry),
            )
            keep_state(app, state)
            try:
                yield
            finally:
                await state.plane.shadows.close()
    finally:
        pool.shutdown()
