"""Per-client-IP limits on what costs the gateway work before anyone is known: every public
POST (not only the token endpoint), and failed authentication (401s), refused with 429 before
the credential is even checked once an address is over its budget."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis

from gateway.main import create_app
from tests.conftest import serve_in_process
from tests.gateway.fake_auth import (
    INTROSPECT_PATH,
    Stack,
    bearer,
    gateway_settings,
    new_api_key,
    running_stack,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]
OTHER_IP = "127.0.0.2"
FAILURES_KEYS = "servir:ratelimit:auth-failures:*"


@asynccontextmanager
async def client_from(stack: Stack, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests reach the stack's gateway from `address`."""
    transport = httpx.ASGITransport(app=stack.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://servir.test") as client:
        yield client


def assert_refused(answer: httpx.Response, policy: str) -> None:
    """429 as problem+json, with the policy's RateLimit headers and Retry-After."""
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["ratelimit-policy"].startswith(f'"{policy}";')
    assert answer.headers["ratelimit"].startswith(f'"{policy}";r=0;t=')
    assert int(answer.headers["retry-after"]) >= 1


async def test_revoke_is_limited_per_client_ip(flushed: str) -> None:
    async with running_stack(redis_url=flushed, rate_limit_public="3/60") as stack:
        form = {"token": "whatever"}
        answers = [await stack.client.post("/auth/revoke", data=form) for _ in range(4)]
        reached = len(stack.auth.requests)
        async with client_from(stack, OTHER_IP) as other:
            elsewhere = await other.post("/auth/revoke", data=form)
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-policy"] == '"public";q=3;w=60'
    assert_refused(answers[3], "public")
    assert reached == 3  # the refused one never reached the auth-service
    assert elsewhere.status_code == 200
    assert elsewhere.headers["ratelimit"].startswith('"public";r=2;')


async def test_other_writes_to_public_paths_share_the_public_budget(flushed: str) -> None:
    async with running_stack(redis_url=flushed, rate_limit_public="1/60") as stack:
        first = await stack.client.post("/auth/revoke", data={"token": "x"})
        then = await stack.client.put("/auth/revoke", data={"token": "x"})
        token = await stack.client.post("/auth/token", data={"grant_type": "password"})
    assert (first.status_code, then.status_code, token.status_code) == (200, 429, 200)
    assert token.headers["ratelimit-policy"].startswith('"token";')


async def test_failed_authentication_is_limited_per_client_ip(flushed: str) -> None:
    async with running_stack(redis_url=flushed, rate_limit_auth_failures="3/60") as stack:
        junk = [bearer("not-a-token"), {"X-API-Key": "srv_short"}, {"X-API-Key": new_api_key()}]
        failures = [await stack.client.get("/models", headers=headers) for headers in junk]
        over = await stack.client.get("/models", headers={"X-API-Key": new_api_key()})
        asked = stack.auth.handled.count(INTROSPECT_PATH)
        again = await stack.client.get("/models", headers={"X-API-Key": new_api_key()})
        fresh_token = await stack.client.get("/models", headers=bearer(stack.fake.signer.token()))
        async with client_from(stack, OTHER_IP) as other:
            other_junk = await other.get("/models", headers=bearer("not-a-token"))
            other_good = await other.get("/models", headers=bearer(stack.fake.signer.token()))
        introspections = stack.auth.handled.count(INTROSPECT_PATH)
    assert [answer.status_code for answer in failures] == [401, 401, 401]
    assert [a.headers["ratelimit"].split(";")[1] for a in failures] == ["r=2", "r=1", "r=0"]
    assert failures[0].headers["ratelimit-policy"] == '"auth-failures";q=3;w=60'
    assert_refused(over, "auth-failures")
    assert_refused(again, "auth-failures")
    assert_refused(fresh_token, "auth-failures")  # not checked at all: refused unread
    assert introspections == asked  # a refused key never reached the auth-service
    assert (other_junk.status_code, other_good.status_code) == (401, 200)


async def test_a_credential_already_verified_still_passes_a_blocked_address(flushed: str) -> None:
    async with running_stack(redis_url=flushed, rate_limit_auth_failures="2/60") as stack:
        token = bearer(stack.fake.signer.token())
        key, _ = stack.fake.add_key()
        before = [await stack.client.get("/models", headers=h) for h in (token, {"X-API-Key": key})]
        for _ in range(3):
            await stack.client.get("/models", headers=bearer("junk"))
        blocked = await stack.client.get("/models", headers=bearer("junk"))
        after = [await stack.client.get("/models", headers=h) for h in (token, {"X-API-Key": key})]
    assert [answer.status_code for answer in before] == [200, 200]
    assert blocked.status_code == 429
    # Remembered as verified: checking them again costs nothing, so a neighbour behind the
    # same address (a NAT) is not locked out by someone else's failures.
    assert [answer.status_code for answer in after] == [200, 200]


async def test_failures_counted_by_one_gateway_block_the_address_at_another(flushed: str) -> None:
    async with running_stack(redis_url=flushed, rate_limit_auth_failures="2/60") as stack:
        settings = gateway_settings(
            auth=stack.auth.url, model=stack.model.url, redis_url=flushed,
            rate_limit_auth_failures="2/60",
        )  # fmt: skip
        async with serve_in_process(create_app(settings)) as second:
            here = [await stack.client.get("/models", headers=bearer("junk")) for _ in range(2)]
            there = await second.get("/models", headers=bearer("junk"))
    assert [answer.status_code for answer in here] == [401, 401]
    assert_refused(there, "auth-failures")


async def test_successful_requests_never_touch_the_failure_counter(flushed: str) -> None:
    async with running_stack(redis_url=flushed) as stack:
        token = bearer(stack.fake.signer.token())
        answers = [await stack.client.get("/models", headers=token) for _ in range(5)]
        async with Redis.from_url(flushed) as redis:
            counted_before = await redis.keys(FAILURES_KEYS)
            await stack.client.get("/models", headers=bearer("junk"))
            counted_after = await redis.keys(FAILURES_KEYS)
    assert {answer.status_code for answer in answers} == {200}
    assert answers[0].headers["ratelimit-policy"].startswith('"default";')
    assert counted_before == []
    assert len(counted_after) == 1


async def test_limits_off_count_no_failures(flushed: str) -> None:
    async with running_stack(
        redis_url=flushed, rate_limit_enabled=False, rate_limit_auth_failures="1/60"
    ) as stack:
        answers = [await stack.client.get("/models", headers=bearer("junk")) for _ in range(3)]
        revokes = [await stack.client.post("/auth/revoke", data={"token": "x"}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401] * 3
    assert [answer.status_code for answer in revokes] == [200] * 3
