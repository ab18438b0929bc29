"""Rate limits through the gateway (docs/api.md): policies, headers, windows, client IPs,
fallback."""

import asyncio
import re

import httpx
import pytest

from gateway.main import create_app
from tests.conftest import serve_in_process
from tests.gateway.fake_auth import FakeAuth, bearer, closed_url, gateway_settings, running_stack
from tests.gateway.upstreams import running_upstream

pytestmark = pytest.mark.anyio
STATE = re.compile(r'^"(?P<policy>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def remaining(response: httpx.Response) -> int:
    """`r` of the RateLimit header."""
    match = STATE.match(response.headers["ratelimit"])
    assert match is not None, response.headers["ratelimit"]
    return int(match["r"])


def reset(response: httpx.Response) -> int:
    """`t` of the RateLimit header."""
    match = STATE.match(response.headers["ratelimit"])
    assert match is not None
    return int(match["t"])


async def test_quota_passes_then_429_then_the_window_resets(flushed: str) -> None:
    fake = FakeAuth()
    headers = bearer(fake.signer.token(sub="ada"))
    async with running_stack(fake, redis_url=flushed, rate_limit_default="3/2") as stack:
        answers = [await stack.client.get("/v2/models/iris", headers=headers) for _ in range(4)]
        forwarded = len(stack.model.requests)
        await asyncio.sleep(2.05)
        again = await stack.client.get("/v2/models/iris", headers=headers)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    for answer in answers:
        assert answer.headers["ratelimit-policy"] == '"default";q=3;w=2'
    assert [remaining(a) for a in answers] == [2, 1, 0, 0]
    assert all(1 <= reset(a) <= 2 for a in answers)
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert refused.headers["retry-after"] == str(reset(refused))
    assert "retry-after" not in answers[0].headers
    assert forwarded == 3
    assert again.status_code == 200
    assert remaining(again) == 2


async def test_each_principal_has_its_own_window_shared_by_every_gateway(flushed: str) -> None:
    fake = FakeAuth()
    ada, bob = bearer(fake.signer.token(sub="ada")), bearer(fake.signer.token(sub="bob"))
    async with running_stack(fake, redis_url=flushed, rate_limit_default="2/60") as stack:
        settings = gateway_settings(
            auth=stack.auth.url, model=stack.model.url, redis_url=flushed,
            rate_limit_default="2/60",
        )  # fmt: skip
        async with serve_in_process(create_app(settings)) as second:
            first_ada = await stack.client.get("/v2", headers=ada)
            second_ada = await second.get("/v2", headers=ada)
            third_ada = await stack.client.get("/v2", headers=ada)
            first_bob = await second.get("/v2", headers=bob)
    assert [first_ada.status_code, second_ada.status_code, third_ada.status_code] == [200, 200, 429]
    assert first_bob.status_code == 200
    assert remaining(first_bob) == 1


async def test_errors_after_counting_carry_the_headers(flushed: str) -> None:
    fake = FakeAuth()
    async with running_upstream("record", {"/.well-known/jwks.json": fake.jwks}) as auth:
        settings = gateway_settings(auth=auth.url, model=closed_url(), redis_url=flushed)
        async with serve_in_process(create_app(settings)) as client:
            answer = await client.get("/v2", headers=bearer(fake.signer.token(sub="eve")))
    assert answer.status_code == 503
    assert answer.headers["ratelimit-policy"] == '"default";q=6000;w=60'
    assert remaining(answer) == 5999


async def test_token_endpoint_is_limited_per_client_ip_in_oauth_form(flushed: str) -> None:
    async with running_stack(redis_url=flushed, rate_limit_token="2/60") as stack:
        form = {"grant_type": "password", "username": "u", "password": "p"}
        answers = [await stack.client.post("/auth/token", data=form) for _ in range(3)]
        revoke = await stack.client.post("/auth/revoke", data={"token": "x"})
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["ratelimit-policy"] == '"token";q=2;w=60'
    refused = answers[2]
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"] == "invalid_request"
    assert refused.headers["cache-control"] == "no-store"
    assert int(refused.headers["retry-after"]) >= 1
    assert revoke.status_code == 200  # other public writes count under a policy of their own
    assert revoke.headers["ratelimit-policy"] == '"public";q=60;w=60'


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(flushed: str) -> None:
    form = {"grant_type": "password", "username": "u", "password": "p"}
    hop = {"X-Forwarded-For": "198.18.0.7, 198.18.0.9"}
    other = {"X-Forwarded-For": "198.18.0.8"}
    async with running_stack(redis_url=flushed, rate_limit_token="1/60") as untrusted:
        spoofed = [
            await untrusted.client.post("/auth/token", data=form, headers=extra)
            for extra in (hop, other)
        ]
    async with running_stack(
        redis_url=flushed, rate_limit_token="1/60", trusted_proxies="127.0.0.1"
    ) as trusted:
        first = await trusted.client.post("/auth/token", data=form, headers=hop)
        second = await trusted.client.post("/auth/token", data=form, headers=other)
        same = await trusted.client.post("/auth/token", data=form, headers=hop)
        client_ip = dict(trusted.auth.headers(0))["x-servir-client-ip"]
    # Untrusted peer: X-Forwarded-For is the client's own claim, ignored; one bucket.
    assert [answer.status_code for answer in spoofed] == [200, 429]
    assert [first.status_code, second.status_code, same.status_code] == [200, 200, 429]
    assert client_ip == "198.18.0.9"


async def test_redis_down_limits_in_process_and_readiness_says_so() -> None:
    fake = FakeAuth()
    headers = bearer(fake.signer.token(sub="ada"))
    async with running_stack(fake, rate_limit_default="2/60") as stack:  # Redis is dead here
        answers = [await stack.client.get("/v2", headers=headers) for _ in range(3)]
        ready = await stack.client.get("/readyz")
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [remaining(a) for a in answers] == [1, 0, 0]
    # (The recording model-service has no readiness of its own: only the Redis check matters.)
    assert ready.json()["checks"]["redis"].endswith("rate limits counted in process")


async def test_disabled_limits_send_no_headers(flushed: str) -> None:
    fake = FakeAuth()
    async with running_stack(
        fake, redis_url=flushed, rate_limit_enabled=False, rate_limit_default="1/60"
    ) as stack:
        headers = bearer(fake.signer.token(sub="ada"))
        answers = [await stack.client.get("/v2", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "ratelimit" not in answers[0].headers
