"""Build a service's FastAPI app with the shared plumbing in place."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from servir_runtime.logs import configure_logging
from servir_runtime.middleware import ServiceMiddleware
from servir_runtime.openapi import install_problem_openapi
from servir_runtime.problems import install_problem_handlers
from servir_runtime.redis_client import connect_redis
from servir_runtime.settings import ServiceSettings
from shared_schemas.health import Liveness

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
DOCS_URLS = ("docs_url", "redoc_url", "openapi_url")


def build_service_app(
    *,
    service: str,
    title: str,
    settings: ServiceSettings,
    internal: bool,
    lifespan: Lifespan | None = None,
    default_docs: bool = True,
) -> FastAPI:
    """A FastAPI app with JSON logs, request ids, problem+json errors, `/livez`, a Redis client
    in `app.state.redis`, and, when `internal`, the internal-token guard on every route but
    `/livez`, `/readyz` and `/metrics`. `lifespan` runs inside, once Redis is set up.
    `default_docs=False` leaves out FastAPI's `/docs`, `/redoc` and `/openapi.json` routes
    (`app.openapi()` still builds the document) for an app that serves its own."""
    configure_logging(service=service, level=settings.log_level)

    @asynccontextmanager
    async def service_lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = connect_redis(settings.redis_url, timeout=settings.redis_timeout_seconds)
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await app.state.redis.aclose()

    off: dict[str, Any] = {} if default_docs else dict.fromkeys(DOCS_URLS)
    app = FastAPI(title=title, version="0.1.0", lifespan=service_lifespan, **off)
    app.state.settings = settings
    install_problem_handlers(app)
    install_problem_openapi(app)
    token = settings.internal_token.get_secret_value() if internal else None
    app.add_middleware(
        ServiceMiddleware, access_log_sample=settings.access_log_sample, internal_token=token
    )
    app.add_api_route("/livez", livez, methods=["GET"], tags=["health"])
    return app


async def livez() -> Liveness:
    """The process answers; no dependency is checked."""
    return Liveness()
