"""`/openapi.json` follows the upstreams' documents, never fails when they do, and `/docs`
serves Swagger UI from the gateway alone."""

import asyncio
import json
import re
from typing import Any

import pytest

from gateway.config import Settings
from gateway.main import create_app
from servir_runtime.processes import free_port
from tests.conftest import serve_in_process
from tests.gateway.upstreams import running_upstream

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


def model_document(*names: str) -> dict[str, Any]:
    """A model-service document with one prediction path per name."""
    paths = {
        f"/models/{name}/predict": {"post": {"responses": {"200": {"description": "OK"}}}}
        for name in names
    }
    return {"openapi": "3.1.0", "info": {"title": "m", "version": "1"}, "paths": paths}


class Documents:
    """What the fake model-service answers at /openapi.json; tests change it."""

    def __init__(self, *names: str) -> None:
        self.current = model_document(*names)

    def __call__(self, _: bytes) -> tuple[int, bytes]:
        return 200, json.dumps(self.current).encode()


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_openapi_keeps_the_last_good_document_when_an_upstream_goes(redis_url: str) -> None:
    documents = Documents("iris")
    async with running_upstream("record", {"/openapi.json": documents}) as model:
        settings = Settings(
            redis_url=redis_url,
            auth_service_url=closed_url(),
            model_service_url=model.url,
            openapi_max_age_seconds=0,
        )
        async with serve_in_process(create_app(settings)) as client:
            before = await client.get("/openapi.json")
            model.stop()
            after = await client.get("/openapi.json")
    assert "/models/iris/predict" in before.json()["paths"]
    assert after.status_code == 200
    assert after.json() == before.json()


async def test_openapi_follows_a_changed_upstream_once_older_than_max_age(redis_url: str) -> None:
    documents = Documents("iris")
    async with running_upstream("record", {"/openapi.json": documents}) as model:
        settings = Settings(
            redis_url=redis_url,
            auth_service_url=closed_url(),
            model_service_url=model.url,
            openapi_max_age_seconds=0.3,
        )
        async with serve_in_process(create_app(settings)) as client:
            await client.get("/openapi.json")
            documents.current = model_document("iris", "churn")
            cached = (await client.get("/openapi.json")).json()
            await asyncio.sleep(0.35)
            fresh = (await client.get("/openapi.json")).json()
    assert "/models/churn/predict" not in cached["paths"]
    assert "/models/churn/predict" in fresh["paths"]


async def test_openapi_without_any_upstream_is_the_gateways_own(redis_url: str) -> None:
    settings = Settings(
        redis_url=redis_url, auth_service_url=closed_url(), model_service_url=closed_url()
    )
    async with serve_in_process(create_app(settings)) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert set(document["paths"]) == {"/livez", "/readyz"}
    assert set(document["components"]["securitySchemes"]) == {"OAuth2", "APIKey"}


async def test_docs_page_loads_only_the_gateways_own_files(dead_redis_url: str) -> None:
    async with serve_in_process(create_app(Settings(redis_url=dead_redis_url))) as client:
        page = await client.get("/docs")
        linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assets = [await client.get(url) for url in linked]
        unknown = await client.get("/docs/static/main.py")
        redoc = await client.get("/redoc")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the CSP allows none
    assert len(linked) == 4  # the icon, the stylesheet, Swagger UI and the script starting it
    assert all(url.startswith("/docs/static/") for url in linked)
    assert [asset.status_code for asset in assets] == [200] * len(linked)
    assert all("max-age" in asset.headers["cache-control"] for asset in assets)
    assert (unknown.status_code, redoc.status_code) == (404, 404)


async def test_openapi_survives_an_upstream_document_it_cannot_read(redis_url: str) -> None:
    documents = Documents("iris")
    documents.current["paths"]["/models/iris/predict"]["post"]["responses"] = ["not", "a", "map"]
    async with running_upstream("record", {"/openapi.json": documents}) as model:
        settings = Settings(
            redis_url=redis_url, auth_service_url=closed_url(), model_service_url=model.url
        )
        async with serve_in_process(create_app(settings)) as client:
            response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert set(response.json()["paths"]) == {"/livez", "/readyz"}
