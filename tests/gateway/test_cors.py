"""CORS (docs/api.md): off unless GATEWAY_CORS_ORIGINS lists origins; then only those origins."""

import pytest

from tests.gateway.fake_auth import FakeAuth, bearer, running_stack

pytestmark = pytest.mark.anyio
APP = "https://app.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip


async def test_cors_is_off_by_default() -> None:
    fake = FakeAuth()
    async with running_stack(fake) as stack:
        answer = await stack.client.get(
            "/v2", headers={"Origin": APP, **bearer(fake.signer.token())}
        )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


async def test_listed_origins_get_preflight_and_exposed_headers() -> None:
    fake = FakeAuth()
    async with running_stack(fake, cors_origins=f"{APP}, https://other.example.com") as stack:
        preflight = await stack.client.options(
            "/models/iris/predict", headers={"Origin": APP, **PREFLIGHT}
        )
        refused = await stack.client.options(
            "/models/iris/predict", headers={"Origin": "https://evil.example.com", **PREFLIGHT}
        )
        answer = await stack.client.get(
            "/v2", headers={"Origin": APP, **bearer(fake.signer.token())}
        )
        forwarded = len(stack.model.requests)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert answer.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    assert forwarded == 1  # preflights never reach the model-service
