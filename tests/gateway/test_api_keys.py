"""API keys are introspected at the auth-service once, then served from a short cache, and
keep working for a while when the auth-service goes away."""

import asyncio

import pytest

from tests.gateway.fake_auth import (
    INTROSPECT_PATH,
    FakeAuth,
    closed_url,
    new_api_key,
    running_stack,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


async def test_api_key_is_introspected_once_then_cached() -> None:
    async with running_stack() as stack:
        key, key_id = stack.fake.add_key(owner="bob", scope="models:read models:predict")
        replies = [await stack.client.get("/models", headers={"X-API-Key": key}) for _ in range(3)]
    assert [reply.status_code for reply in replies] == [200] * 3
    assert stack.auth.handled.count(INTROSPECT_PATH) == 1
    sent = dict(stack.model.headers())
    assert sent["x-servir-principal"] == f"key:{key_id}"
    assert sent["x-servir-scopes"] == "models:read models:predict"
    assert "x-api-key" not in sent


async def test_api_key_is_checked_again_after_cache_seconds() -> None:
    async with running_stack(api_key_cache_seconds=0.2) as stack:
        key, _ = stack.fake.add_key()
        first = await stack.client.get("/models", headers={"X-API-Key": key})
        del stack.fake.keys[key]  # deleted at the auth-service without any event
        await asyncio.sleep(0.3)
        second = await stack.client.get("/models", headers={"X-API-Key": key})
    assert (first.status_code, second.status_code) == (200, 401)
    assert stack.auth.handled.count(INTROSPECT_PATH) == 2


async def test_api_key_unknown_is_401_and_cached() -> None:
    unknown = new_api_key()
    async with running_stack() as stack:
        replies = [
            await stack.client.get("/models", headers={"X-API-Key": unknown}) for _ in range(2)
        ]
    assert [reply.status_code for reply in replies] == [401, 401]
    assert replies[0].headers["www-authenticate"] == 'Bearer realm="servir", error="invalid_token"'
    assert stack.auth.handled.count(INTROSPECT_PATH) == 1
    assert stack.model.requests == []


async def test_api_key_missing_scope_is_403() -> None:
    async with running_stack() as stack:
        key, _ = stack.fake.add_key(scope="models:read")
        response = await stack.client.post("/models", headers={"X-API-Key": key})
    assert response.status_code == 403
    assert 'scope="models:admin"' in response.headers["www-authenticate"]


async def test_api_key_without_auth_service_is_503_with_retry_after() -> None:
    async with running_stack(auth_service_url=closed_url()) as stack:
        response = await stack.client.get("/models", headers={"X-API-Key": new_api_key()})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert stack.model.requests == []


async def test_api_key_recently_seen_survives_auth_service_outage() -> None:
    fake = FakeAuth()
    async with running_stack(fake, api_key_cache_seconds=0.1, api_key_stale_seconds=60) as stack:
        known, _ = fake.add_key()
        unseen, _ = fake.add_key()
        before = await stack.client.get("/models", headers={"X-API-Key": known})
        stack.auth.stop()
        await asyncio.sleep(0.2)  # past the cache: the gateway tries the auth-service again
        during = await stack.client.get("/models", headers={"X-API-Key": known})
        never_seen = await stack.client.get("/models", headers={"X-API-Key": unseen})
    assert (before.status_code, during.status_code) == (200, 200)
    assert never_seen.status_code in {502, 503}


async def test_api_key_stale_past_window_is_refused_with_retry() -> None:
    fake = FakeAuth()
    async with running_stack(fake, api_key_cache_seconds=0.1, api_key_stale_seconds=0.2) as stack:
        key, _ = fake.add_key()
        before = await stack.client.get("/models", headers={"X-API-Key": key})
        stack.auth.stop()
        await asyncio.sleep(0.3)
        after = await stack.client.get("/models", headers={"X-API-Key": key})
    assert before.status_code == 200
    assert after.status_code in {502, 503}
