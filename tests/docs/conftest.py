"""The gateway's merged OpenAPI document, built in process (`merged_openapi`): the
auth-service and the model-service (over the demo bundles) give their documents, two loopback
servers hand them to the gateway as its upstreams would, and the gateway merges them at
`/openapi.json`."""

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from auth_service.main import create_app as create_auth
from gateway.main import create_app as create_gateway
from model_service.main import create_app as create_models
from tests.conftest import INTERNAL, serve_in_process


@asynccontextmanager
async def serving(document: bytes) -> AsyncIterator[str]:
    """A loopback HTTP/1.1 server answering every request with `document`; its base URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(document)}\r\n\r\n"
        )
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(head.encode() + document)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def merged_openapi(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, demo_models: Path, tmp_path: Path
) -> dict[str, Any]:
    """The document a user reads at the gateway's `/openapi.json`, over the demo bundles.

    Each service is configured by its environment, as in production, so that only the apps'
    factories are imported here."""
    store = tmp_path / "models"
    shutil.copytree(demo_models, store)
    for name, value in {
        "AUTH_REDIS_URL": redis_url,
        "AUTH_KEYS_DIR": str(tmp_path / "keys"),
        "MODEL_REDIS_URL": redis_url,
        "MODEL_MODELS_DIR": str(store),
        "GATEWAY_REDIS_URL": redis_url,
    }.items():
        monkeypatch.setenv(name, value)
    async with serve_in_process(create_auth()) as auth:
        auth_document = (await auth.get("/openapi.json", headers=INTERNAL)).content
    async with serve_in_process(create_models()) as models:
        model_document = (await models.get("/openapi.json", headers=INTERNAL)).content
    async with serving(auth_document) as auth_url, serving(model_document) as model_url:
        monkeypatch.setenv("GATEWAY_AUTH_SERVICE_URL", auth_url)
        monkeypatch.setenv("GATEWAY_MODEL_SERVICE_URL", model_url)
        async with serve_in_process(create_gateway()) as gateway:
            response = await gateway.get("/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document
