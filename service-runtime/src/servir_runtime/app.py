"""Build a service's FastAPI app with the shared plumbing in place."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from servir_runtime.logs import configure_logging
from servir_runtime.middleware import ServiceMiddleware
from servir_runtime.openapi import documented_problems
from servir_runtime.problems import install_problem_handlers
from servir_runtime.redis_client import connect_redis
from servir_runtime.settings import ServiceSettings
from shared_schemas.health import Liveness

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
OpenAPIView = Callable[[FastAPI, dict[str, Any]], dict[str, Any]]
DOCS_URLS = ("docs_url", "redoc_url", "openapi_url")


class ServiceApp(FastAPI):
    """FastAPI whose OpenAPI document tells the truth about error bodies (problem+json), and
    which a service may show through a view of its own (e.g. a path per loaded model)."""

    def __init__(self, *, openapi_view: OpenAPIView | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.openapi_view = openapi_view

    def openapi(self) -> dict[str, Any]:
        """The routes' document, built once; the service's view of it on every call."""
        if self.openapi_schema is None:
            self.openapi_schema = documented_problems(super().openapi())
        if self.openapi_view is None:
            return self.openapi_schema
        return self.openapi_view(self, self.openapi_schema)


def build_service_app(
    *,
    service: str,
    title: str,
    settings: ServiceSettings,
    internal: bool,
    lifespan: Lifespan | None = None,
    default_docs: bool = True,
    openapi_view: OpenAPIView | None = None,
    inner: Sequence[Middleware] = (),
) -> FastAPI:
    """A FastAPI app with JSON logs, request ids, problem+json errors, `/livez`, a Redis client
    in `app.state.redis`, and, when `internal`, the internal-token guard on every route but
    `/livez`, `/readyz` and `/metrics`. `lifespan` runs inside, once Redis is set up.
    `default_docs=False` leaves out FastAPI's `/docs`, `/redoc` and `/openapi.json` routes
    (`app.openapi()` still builds the document) for an app that serves its own. `openapi_view`
    shows the document differently (it must not change the one it is given); `inner` are
    middleware inside the shared one (so behind the token guard, the request id and the
    access log), outermost first."""
    configure_logging(service=service, level=settings.log_level)
    off: dict[str, Any] = {} if default_docs else dict.fromkeys(DOCS_URLS)
    app = ServiceApp(
        title=title,
        version="0.1.0",
        lifespan=_with_redis(settings, lifespan),
        openapi_view=openapi_view,
        **off,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for middleware in reversed(inner):  # add_middleware puts each one outside the others
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    token = settings.internal_token.get_secret_value() if internal else None
    app.add_middleware(
        ServiceMiddleware, access_log_sample=settings.access_log_sample, internal_token=token
    )
    app.add_api_route("/livez", livez, methods=["GET"], tags=["health"])
    return app


def _with_redis(settings: ServiceSettings, lifespan: Lifespan | None) -> Lifespan:
    """The service's lifespan, run inside one that opens and closes `app.state.redis`."""

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

    return service_lifespan


async def livez() -> Liveness:
    """The process answers; no dependency is checked."""
    return Liveness()
