"""The gateway forwards public paths, keeps internal headers its own, and maps upstream faults."""

import time

import pytest

from gateway.main import create_app
from servir_runtime.settings import DEV_INTERNAL_TOKEN
from tests.conftest import serve_in_process
from tests.gateway.fake_auth import (
    FakeAuth,
    bearer,
    closed_url,
    gateway_settings,
    running_stack,
)
from tests.gateway.upstreams import Handler, running_upstream

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


def jwks_only(fake: FakeAuth) -> dict[str, Handler]:
    return {"/.well-known/jwks.json": fake.jwks}


async def test_forwards_model_paths_with_internal_headers_only() -> None:
    async with running_stack() as stack:
        model = stack.model
        response = await stack.client.post(
            "/v2/models/iris/infer?x=1&y=%2F",
            content=b'{"inputs": []}',
            headers={
                **bearer(stack.fake.signer.token(sub="alice")),
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
    assert servir == [
        ("x-servir-internal-token", DEV_INTERNAL_TOKEN),
        ("x-servir-client-ip", "127.0.0.1"),
        ("x-servir-principal", "alice"),
        ("x-servir-scopes", "models:read models:predict"),
    ]
    assert "authorization" not in dict(sent)
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
    first, second = auth.forwarded()  # the gateway's own JWKS fetches carry no request id
    assert [auth.request_line(first), auth.request_line(second)] == [
        "POST /auth/token HTTP/1.1",
        "GET /.well-known/jwks.json HTTP/1.1",
    ]
    assert auth.bodies[first] == b"grant_type=password"


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
    assert auth.forwarded() == []


async def test_unreachable_upstream_is_503_with_retry_after() -> None:
    fake = FakeAuth()
    async with running_upstream("record", jwks_only(fake)) as auth:
        app = create_app(gateway_settings(auth=auth.url, model=closed_url()))
        async with serve_in_process(app) as client:
            response = await client.get("/v2/models/iris", headers=bearer(fake.signer.token()))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["detail"] == "The model-service is unreachable."
    assert body["error"] == body["detail"]


async def test_upstream_timeout_is_504_within_read_timeout() -> None:
    fake = FakeAuth()
    async with (
        running_upstream("record", jwks_only(fake)) as auth,
        running_upstream("silent") as model,
    ):
        settings = gateway_settings(auth=auth.url, model=model.url, read_timeout_seconds=0.3)
        async with serve_in_process(create_app(settings)) as client:
            token = fake.signer.token()
            started = time.monotonic()
            response = await client.get("/models", headers=bearer(token))
            elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["title"] == "Gateway Timeout"
    assert elapsed < 2.0


async def test_upload_waits_for_the_upload_timeout_not_the_read_timeout() -> None:
    """An install slower than GATEWAY_READ_TIMEOUT_SECONDS gets its 201 through (before,
    a 504 while the model-service went on to install it); other routes still time out."""
    fake = FakeAuth()
    installed = {"/models": lambda _body: (201, b'{"name":"m","version":"1"}')}
    slow = {"/models": 1.0, "/models/m/predict": 1.0}
    predict = {"/models/m/predict": lambda _body: (200, b"{}")}
    async with (
        running_upstream("record", jwks_only(fake)) as auth,
        running_upstream("record", installed | predict, delays=slow) as model,
    ):
        settings = gateway_settings(
            auth=auth.url, model=model.url, read_timeout_seconds=0.3, upload_timeout_seconds=5
        )
        async with serve_in_process(create_app(settings)) as client:
            admin = bearer(fake.signer.token(scope="models:read models:predict models:admin"))
            upload = await client.post("/models", content=b"bundle", headers=admin)
            predicted = await client.post("/models/m/predict", content=b"{}", headers=admin)
    assert upload.status_code == 201
    assert upload.json() == {"name": "m", "version": "1"}
    assert predicted.status_code == 504


async def test_invalid_upstream_reply_is_502() -> None:
    fake = FakeAuth()
    async with running_upstream("garbage", jwks_only(fake)) as auth:
        app = create_app(gateway_settings(auth=auth.url, model=closed_url()))
        async with serve_in_process(app) as client:
            response = await client.get("/auth/me", headers=bearer(fake.signer.token()))
    assert response.status_code == 502
    assert response.json()["detail"] == "The auth-service sent an invalid reply."


async def test_gateway_serves_its_own_unknown_paths_as_404_problem() -> None:
    app = create_app(gateway_settings(auth=closed_url(), model=closed_url()))
    async with serve_in_process(app) as client:
        response = await client.get("/modelsx")
    assert response.status_code == 404
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_methods_the_gateway_does_not_forward_are_405_with_allow() -> None:
    app = create_app(gateway_settings(auth=closed_url(), model=closed_url()))
    async with serve_in_process(app) as client:
        response = await client.request("TRACE", "/v2/models/iris")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert "TRACE" not in response.headers["allow"]
    assert response.headers["content-type"] == "application/problem+json"
