"""The default policy counted in process between reports to Redis (docs/api.md, Rate limits):
what is promised across replicas, what stays exact, the headers, and a Redis outage."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway.limits.ratelimit import SCRIPT
from gateway.limits.synced import SyncedCounts
from gateway.main import create_app
from gateway.transport.redis_script import ScriptClient
from tests.conftest import serve_in_process
from tests.gateway.fake_auth import FakeAuth, Stack, bearer, gateway_settings, running_stack
from tests.gateway.test_rate_limits import remaining, reset
from tests.gateway.test_redis_script import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
SYNC_MS = 50
# The promise holds while Redis answers; on a loaded machine a reply can take longer than the
# default timeout (0.3 s), and the gateway would then count in process (fail open).
PATIENT = {"redis_timeout_seconds": 5.0}
FELL_BACK = "Redis unreachable"


@asynccontextmanager
async def two_gateways(
    fake: FakeAuth, redis_url: str, **extra: Any
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    """A gateway (with its fake upstreams) and a second one on the same upstreams and Redis."""
    async with running_stack(fake, redis_url=redis_url, **PATIENT, **extra) as stack:
        settings = gateway_settings(
            auth=stack.auth.url, model=stack.model.url, redis_url=redis_url, **PATIENT, **extra
        )
        async with serve_in_process(create_app(settings)) as second:
            yield stack, second


async def burst(clients: list[httpx.AsyncClient], count: int, **request: Any) -> list[int]:
    """`count` requests, spread over `clients` and sent 16 at a time; their statuses."""
    statuses: list[int] = []
    for start in range(0, count, 16):
        answers = await asyncio.gather(
            *(clients[i % len(clients)].request(**request) for i in range(start, start + 16))
        )
        statuses += [answer.status_code for answer in answers]
    return statuses


async def counted_in_redis(redis_url: str, policy: str) -> int:
    """The sum of every window of `policy` in Redis."""
    async with Redis.from_url(redis_url) as redis:
        keys = await redis.keys(f"servir:ratelimit:{policy}:*")
        values = await redis.mget(keys) if keys else []
        return sum(int(value or 0) for value in values)


async def test_two_replicas_admit_at_most_the_documented_bound(
    flushed: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # quota 100, 10% may be admitted before Redis counts it: batch 10; R = 2 -> at most 110.
    fake = FakeAuth()
    request = {"method": "GET", "url": "/v2", "headers": bearer(fake.signer.token(sub="ada"))}
    limits = {"rate_limit_default": "100/60", "rate_limit_local_percent": 10}
    async with two_gateways(fake, flushed, rate_limit_sync_ms=SYNC_MS, **limits) as (stack, two):
        statuses = await burst([stack.client, two], 320, **request)
        await asyncio.sleep(SYNC_MS * 4 / 1000)
        forwarded = len(stack.model.requests)
        counted = await counted_in_redis(flushed, "default")
    admitted = statuses.count(200)
    assert FELL_BACK not in capfd.readouterr().out  # the bound is for a reachable Redis
    assert set(statuses) == {200, 429}
    assert 100 <= admitted <= 100 + (2 - 1) * 10
    assert forwarded == admitted  # a refused request never reaches the model-service
    assert counted >= admitted  # every admission was reported to Redis


async def test_sync_off_is_exact_across_replicas(
    flushed: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = FakeAuth()
    request = {"method": "GET", "url": "/v2", "headers": bearer(fake.signer.token(sub="ada"))}
    limits = {"rate_limit_default": "100/60", "rate_limit_local_percent": 10}
    async with two_gateways(fake, flushed, rate_limit_sync_ms=0, **limits) as (stack, two):
        statuses = await burst([stack.client, two], 160, **request)
    assert FELL_BACK not in capfd.readouterr().out
    assert statuses.count(200) == 100


async def test_token_and_failed_authentication_limits_stay_exact(
    flushed: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = FakeAuth()
    form = {"grant_type": "password", "username": "u", "password": "p"}
    limits = {"rate_limit_token": "40/60", "rate_limit_auth_failures": "40/60"}
    local = {"rate_limit_sync_ms": SYNC_MS, "rate_limit_local_percent": 50}
    async with two_gateways(fake, flushed, **limits, **local) as (stack, two):
        tokens = await burst([stack.client, two], 64, method="POST", url="/auth/token", data=form)
        junk = {"method": "GET", "url": "/models", "headers": bearer("not-a-token")}
        failures = await burst([stack.client, two], 64, **junk)
    assert FELL_BACK not in capfd.readouterr().out
    assert tokens.count(200) == 40
    assert failures.count(401) == 40
    assert set(failures) == {401, 429}


async def test_headers_count_down_on_the_local_path(flushed: str) -> None:
    fake = FakeAuth()
    headers = bearer(fake.signer.token(sub="ada"))
    limits = {"rate_limit_default": "20/60", "rate_limit_local_percent": 50}  # batch 10
    async with running_stack(fake, redis_url=flushed, rate_limit_sync_ms=SYNC_MS, **limits) as one:
        answers = [await one.client.get("/v2", headers=headers) for _ in range(21)]
        await asyncio.sleep(SYNC_MS * 4 / 1000)
        counted = await counted_in_redis(flushed, "default")
    assert [a.status_code for a in answers] == [200] * 20 + [429]
    assert [remaining(a) for a in answers] == [*range(19, -1, -1), 0]
    assert all(a.headers["ratelimit-policy"] == '"default";q=20;w=60' for a in answers)
    assert all(55 <= reset(a) <= 60 for a in answers)
    assert answers[-1].headers["retry-after"] == str(reset(answers[-1]))
    assert "retry-after" not in answers[0].headers
    assert counted == 20  # one replica: its count is exact, and Redis has every admission


async def test_redis_lost_mid_window_counts_in_process(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    fake = FakeAuth()
    headers = bearer(fake.signer.token(sub="ada"))
    limits = {"rate_limit_default": "20/60", "rate_limit_local_percent": 50}
    try:
        async with running_stack(
            fake, redis_url=server.url, rate_limit_sync_ms=SYNC_MS, **limits
        ) as one:
            before = [await one.client.get("/v2", headers=headers) for _ in range(5)]
            server.kill()
            await asyncio.sleep(SYNC_MS * 4 / 1000)  # the next report fails: fall back
            after = [await one.client.get("/v2", headers=headers) for _ in range(21)]
            ready = await one.client.get("/readyz")
    finally:
        server.kill()
    assert [a.status_code for a in before] == [200] * 5
    assert FELL_BACK in capfd.readouterr().out
    # As documented: each gateway counts in process, in a window of its own, while Redis is away.
    assert [a.status_code for a in after] == [200] * 20 + [429]
    assert ready.json()["checks"]["redis"].endswith("rate limits counted in process")


async def test_a_new_window_starts_afresh_on_the_local_path(flushed: str) -> None:
    fake = FakeAuth()
    headers = bearer(fake.signer.token(sub="ada"))
    limits = {"rate_limit_default": "20/1", "rate_limit_local_percent": 50}
    async with running_stack(fake, redis_url=flushed, rate_limit_sync_ms=SYNC_MS, **limits) as one:
        first = [await one.client.get("/v2", headers=headers) for _ in range(21)]
        await asyncio.sleep(1.1)
        second = [await one.client.get("/v2", headers=headers) for _ in range(21)]
    for window in (first, second):
        assert [a.status_code for a in window] == [200] * 20 + [429]
        assert [remaining(a) for a in window] == [*range(19, -1, -1), 0]


async def test_dropped_tallies_are_still_reported(flushed: str) -> None:
    client = ScriptClient(flushed, SCRIPT, timeout=2.0)
    counts = SyncedCounts(client.run, interval=SYNC_MS / 1000, max_keys=1, on_error=print)
    keys = [f"servir:ratelimit:default:60:drop-{n}" for n in range(3)]
    admitted = 0
    try:
        for key in keys:
            await counts.exact(key, 60_000)
            admitted += 1
        for _ in range(5):  # only the last key is still tallied here; the others go to Redis
            for key in keys:
                if counts.admit(key, quota=100, batch=10) is None:
                    await counts.exact(key, 60_000)
                admitted += 1
        await asyncio.sleep(SYNC_MS * 4 / 1000)
    finally:
        await counts.aclose()
        await client.aclose()
    assert await counted_in_redis(flushed, "default") == admitted
