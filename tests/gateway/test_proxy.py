"""The gateway forwards public paths, keeps internal headers its own, and maps upstream faults."""

import time

import pytest

from gateway.config import Settings
from gateway.main import create_app
from servir_stack import free_port
from shared_schemas.runtime.settings import DEV_INTERNAL_TOKEN
from tests.conftest import serve_in_process
from tests.gateway.upstreams import running_upstream

pytestmark = pytest.mark.anyio


def gateway_settings(*, auth: str, model: str, read_timeout: float = 5.0) -> Settings:
    return Settings(
        auth_service_url=auth,
        model_service_url=model,
        read_timeout_seconds=read_timeout,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_forwards_model_paths_with_internal_headers_only() -> None:
    async with running_upstream("record") as model:
        app = create_app(gateway_settings(auth=closed_url(), model=model.url))
        async with serve_in_process(app) as client:
            response = await client.post(
                "/v2/models/iris/infer?x=1&y=%2F",
                content=b'{"inputs": []}',
                headers={
                    "X-Request-ID": "caller-7",
                    "X-Servir-Principal": "admin",
                    "X-Servir-Internal-Token": "forged",
                    "X-Servir-Scopes": "users:admin",
                    "Connection": "keep-alive, X-Secret-Hop",
                    "X-Secret-Hop": "1",
                    "Accept": "application/json",
                },
            )
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-request-id"] == "caller-7"
    assert model.request_line() == "POST /v2/models/iris/infer?x=1&y=%2F HTTP/1.1"
    assert model.bodies[-1] == b'{"inputs": []}'
    sent = model.headers()
    servir = [(name, value) for name, value in sent if name.startswith("x-servir-")]
    assert servir == [("x-servir-internal-token", DEV_INTERNAL_TOKEN)]
    assert ("x-request-id", "caller-7") in sent
    assert ("accept", "application/json") in sent
    assert "x-secret-hop" not in dict(sent)


async def test_forwards_auth_paths_and_jwks_to_auth_service() -> None:
    async with running_upstream("record") as auth:
        app = create_app(gateway_settings(auth=auth.url, model=closed_url()))
        async with serve_in_process(app) as client:
            token = await client.post("/auth/token", data={"grant_type": "password"})
            jwks = await client.get("/.well-known/jwks.json")
    assert token.status_code == 200
    assert jwks.status_code == 200
    assert [auth.request_line(0), auth.request_line(1)] == [
        "POST /auth/token HTTP/1.1",
        "GET /.well-known/jwks.json HTTP/1.1",
    ]
    assert auth.bodies[0] == b"grant_type=password"


@pytest.mark.parametrize(
    "path", ["/internal/introspect", "/auth/../internal/introspect", "/auth/%2e%2e/internal/x"]
)
async def test_never_forwards_internal_paths(path: str) -> None:
    async with running_upstream("record") as auth:
        app = create_app(gateway_settings(auth=auth.url, model=auth.url))
        async with serve_in_process(app) as client:
            response = await client.post(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert auth.requests == []


async def test_unreachable_upstream_is_503_with_retry_after() -> None:
    app = create_app(gateway_settings(auth=closed_url(), model=closed_url()))
    async with serve_in_process(app) as client:
        response = await client.get("/v2/models/iris")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["detail"] == "The model-service is unreachable."
    assert body["error"] == body["detail"]


async def test_upstream_timeout_is_504_within_read_timeout() -> None:
    async with running_upstream("silent") as model:
        app = create_app(gateway_settings(auth=closed_url(), model=model.url, read_timeout=0.3))
        async with serve_in_process(app) as client:
            started = time.monotonic()
            response = await client.get("/models")
            elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["title"] == "Gateway Timeout"
    assert elapsed < 2.0


async def test_invalid_upstream_reply_is_502() -> None:
    async with running_upstream("garbage") as auth:
        app = create_app(gateway_settings(auth=auth.url, model=closed_url()))
        async with serve_in_process(app) as client:
            response = await client.get("/auth/me")
    assert response.status_code == 502
    assert response.json()["detail"] == "The auth-service sent an invalid reply."


async def test_gateway_serves_its_own_unknown_paths_as_404_problem() -> None:
    app = create_app(gateway_settings(auth=closed_url(), model=closed_url()))
    async with serve_in_process(app) as client:
        response = await client.get("/modelsx")
    assert response.status_code == 404
    assert response.json()["request_id"] == response.headers["x-request-id"]
