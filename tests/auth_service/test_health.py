"""The auth-service's health endpoints and its refusal of requests that bypass the gateway."""

import pytest

from auth_service.config import Settings
from auth_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio


async def test_ready_when_redis_answers(auth_settings: Settings) -> None:
    async with serve_in_process(create_app(auth_settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok"}}


async def test_not_ready_without_redis(dead_redis_url: str, auth_settings: Settings) -> None:
    settings = auth_settings.model_copy(update={"redis_url": dead_redis_url})
    async with serve_in_process(create_app(settings)) as client:
        response = await client.get("/readyz")
        live = await client.get("/livez")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["checks"]["redis"].startswith("unreachable")
    assert live.json() == {"status": "ok"}


async def test_refuses_routes_without_internal_token(auth_settings: Settings) -> None:
    async with serve_in_process(create_app(auth_settings)) as client:
        refused = await client.get("/openapi.json")
        allowed = await client.get("/openapi.json", headers=INTERNAL)
    assert refused.status_code == 401
    assert allowed.status_code == 200


def test_production_refuses_development_admin_password() -> None:
    with pytest.raises(ValueError, match="AUTH_ADMIN_PASSWORD"):
        Settings(env="production", internal_token="t" * 40)  # type: ignore[arg-type]
