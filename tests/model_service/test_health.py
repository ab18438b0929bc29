"""The model-service's health endpoints and Open Inference Protocol server endpoints."""

from pathlib import Path

import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio


async def test_ready_when_redis_answers(model_settings: Settings) -> None:
    async with serve_in_process(create_app(model_settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"redis": "ok"},
        "models": {"breast-cancer/1": "ready", "churn/1": "ready", "iris/1": "ready"},
    }


async def test_degraded_but_serving_without_redis(dead_redis_url: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=dead_redis_url, models_dir=tmp_path)
    async with serve_in_process(create_app(settings)) as client:
        response = await client.get("/readyz")
        server = await client.get("/v2/health/live", headers=INTERNAL)
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert server.status_code == 200


async def test_v2_server_metadata_needs_internal_token(redis_url: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=redis_url, models_dir=tmp_path)
    async with serve_in_process(create_app(settings)) as client:
        refused = await client.get("/v2")
        metadata = await client.get("/v2", headers=INTERNAL)
    assert refused.status_code == 401
    assert refused.json()["error"] == refused.json()["detail"]
    assert metadata.json()["name"] == "servir"
