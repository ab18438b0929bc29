"""The gateway's `/readyz` reports Redis and both upstreams."""

import pytest

from gateway.config import Settings
from gateway.main import create_app
from servir_runtime.processes import free_port
from tests.conftest import serve_in_process
from tests.gateway.upstreams import running_upstream

pytestmark = pytest.mark.anyio


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_not_ready_without_model_service(redis_url: str) -> None:
    settings = Settings(
        redis_url=redis_url, auth_service_url=closed_url(), model_service_url=closed_url()
    )
    async with serve_in_process(create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {"redis": "ok", "auth-service": "unreachable", "model-service": "unreachable"},
    }


async def test_model_service_with_invalid_readiness_reply_is_not_ready(
    dead_redis_url: str,
) -> None:
    async with running_upstream("record") as odd:
        settings = Settings(
            redis_url=dead_redis_url, auth_service_url=odd.url, model_service_url=odd.url
        )
        async with serve_in_process(create_app(settings)) as client:
            response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["model-service"] == "invalid readiness reply"
    assert body["checks"]["redis"].startswith("unreachable")


async def test_openapi_documents_not_ready_body(dead_redis_url: str) -> None:
    settings = Settings(redis_url=dead_redis_url)
    async with serve_in_process(create_app(settings)) as client:
        schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/readyz"]["get"]["responses"]
    assert responses["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
