"""A service composes the shared app: its own middleware inside the shared one, its own view of
the OpenAPI document; FastAPI's methods stay FastAPI's."""

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from servir_runtime.app import ServiceApp, build_service_app
from servir_runtime.settings import ServiceSettings
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio
SETTINGS = ServiceSettings(redis_url="redis://127.0.0.1:1/0")


class Tagging:
    """Marks every answer it sees, so a test can tell which requests reached it."""

    def __init__(self, app: ASGIApp, tag: str) -> None:
        self.app = app
        self.tag = tag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-tag", self.tag.encode())]
            await send(message)

        await self.app(scope, receive, tagged)


async def test_inner_middleware_runs_behind_the_token_guard_in_the_given_order() -> None:
    app = build_service_app(
        service="test",
        title="t",
        settings=SETTINGS,
        internal=True,
        inner=[Middleware(Tagging, tag="outer"), Middleware(Tagging, tag="inner")],
    )
    async with serve_in_process(app) as client:
        refused = await client.get("/livez-missing")
        allowed = await client.get("/livez", headers=INTERNAL)
    assert refused.status_code == 401
    assert "x-tag" not in refused.headers  # the guard answered before the inner ones ran
    # The innermost middleware adds its header first; the outer one appends after it.
    assert allowed.headers.get_list("x-tag") == ["inner", "outer"]


async def test_an_openapi_view_shows_the_document_without_changing_it() -> None:
    def with_title(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
        return {**schema, "info": {**schema["info"], "title": f"{app.title} (viewed)"}}

    app = build_service_app(
        service="test", title="t", settings=SETTINGS, internal=False, openapi_view=with_title
    )
    async with serve_in_process(app) as client:
        viewed = (await client.get("/openapi.json")).json()
    assert viewed["info"]["title"] == "t (viewed)"
    assert app.openapi_schema is not None
    assert app.openapi_schema["info"]["title"] == "t"
    assert "Problem" in viewed["components"]["schemas"]


def test_no_method_of_fastapi_is_reassigned_on_the_instance() -> None:
    app = build_service_app(service="test", title="t", settings=SETTINGS, internal=True)
    assert isinstance(app, ServiceApp)
    reassigned = [name for name in vars(app) if callable(getattr(FastAPI, name, None))]
    assert reassigned == []
