"""Fixtures every test package shares: a real redis-server on a free port, and in-process apps."""

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from auth_service.main import create_app as create_auth_app
from gateway.config import Settings as GatewaySettings
from gateway.docs.openapi_merge import merge
from gateway.main import create_app as create_gateway_app
from model_service.config import Settings as ModelSettings
from model_service.demo_models import breast_cancer, churn, iris
from model_service.main import create_app as create_model_app
from servir_runtime.processes import free_port, redis_command, redis_pong
from servir_runtime.settings import DEV_INTERNAL_TOKEN

INTERNAL = {"X-Servir-Internal-Token": DEV_INTERNAL_TOKEN}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of this test session's own."""
    port = free_port()
    data_dir: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        redis_command(port=port, data_dir=data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not redis_pong(port):
        assert process.poll() is None, "redis-server exited at start"
        assert time.monotonic() < deadline, "redis-server did not answer PING"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bundles `make models` trains (iris, breast-cancer, churn), trained once per
    session into a folder tests must treat as read-only (copy it to change it)."""
    models_dir: Path = tmp_path_factory.mktemp("models")
    for train in (iris, breast_cancer, churn):
        train(models_dir)
    return models_dir


@pytest.fixture
async def merged_openapi(demo_models: Path, tmp_path: Path, redis_url: str) -> dict[str, Any]:
    """The public document as the gateway serves it, merged from the real services' documents
    (the model-service's with the demo models loaded: it shows one path per model)."""
    store = tmp_path / "models"
    shutil.copytree(demo_models, store)
    model_app = create_model_app(ModelSettings(models_dir=store, redis_url=redis_url))
    async with serve_in_process(model_app):
        model = model_app.openapi()
    auth = create_auth_app().openapi()
    own = create_gateway_app(GatewaySettings(redis_url=redis_url)).app.openapi()
    return merge(own, {"auth": auth, "model": model})


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@asynccontextmanager
async def serve_in_process(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it through httpx's ASGI transport. An ASGI app
    wrapping a FastAPI app (the gateway's edge) keeps it as `app`: its lifespan is run."""
    inner: FastAPI = app if isinstance(app, FastAPI) else app.app  # type: ignore[attr-defined]
    async with inner.router.lifespan_context(inner):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://servir.test") as client:
            yield client
