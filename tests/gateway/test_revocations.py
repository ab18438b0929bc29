"""Revocations reach the gateway through real Redis within a second: published events, the
state found in Redis at start, and again after Redis comes back."""

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from servir_runtime.processes import free_port, redis_command, redis_pong
from shared_schemas.revocation import (
    CHANNEL,
    REVOKED_API_KEYS_KEY,
    REVOKED_TOKENS_KEY,
    USER_CUTOFFS_KEY,
    RevocationEvent,
)
from tests.gateway.fake_auth import JWKS_PATH, Signer, Stack, bearer, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


async def publish(url: str, event: RevocationEvent) -> None:
    async with redis_client(url) as redis:
        await redis.publish(CHANNEL, event.model_dump_json())


async def seconds_until(status: int, request: Callable[[], Awaitable[httpx.Response]]) -> float:
    """How long until `request` answers `status` (fails after 5 s)."""
    started = time.monotonic()
    while (await request()).status_code != status:
        assert time.monotonic() - started < 5, f"never answered {status}"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def get_models(stack: Stack, headers: dict[str, str]) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: stack.client.get("/models", headers=headers)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_revocation_of_token_refuses_its_jti_within_1s(redis_url: str) -> None:
    async with running_stack(redis_url=redis_url) as stack:
        jti = unique("jti")
        token = stack.fake.signer.token(jti=jti)
        other = stack.fake.signer.token()
        assert (await get_models(stack, bearer(token))()).status_code == 200
        now = time.time()
        await publish(
            redis_url, RevocationEvent(kind="token", subject=jti, at=now, until=now + 900)
        )
        assert await seconds_until(401, get_models(stack, bearer(token))) < 1.0
        assert (await get_models(stack, bearer(other))()).status_code == 200


async def test_revocation_of_user_refuses_tokens_issued_before_within_1s(redis_url: str) -> None:
    async with running_stack(redis_url=redis_url) as stack:
        user = unique("carol")
        earlier = stack.fake.signer.token(sub=user, iat=time.time() - 10)
        cutoff = time.time() - 5
        await publish(redis_url, RevocationEvent(kind="user", subject=user, at=cutoff))
        assert await seconds_until(401, get_models(stack, bearer(earlier))) < 1.0
        later = stack.fake.signer.token(sub=user)
        assert (await get_models(stack, bearer(later))()).status_code == 200


async def test_revocation_of_api_key_refuses_it_within_1s(redis_url: str) -> None:
    async with running_stack(redis_url=redis_url) as stack:
        key, key_id = stack.fake.add_key()
        assert (await get_models(stack, {"X-API-Key": key})()).status_code == 200
        event = RevocationEvent(kind="api_key", subject=key_id, at=time.time())
        await publish(redis_url, event)
        # The fake still calls the key active: the mirror alone refuses it.
        assert await seconds_until(401, get_models(stack, {"X-API-Key": key})) < 1.0


async def test_revocation_of_key_owner_rechecks_the_key_within_1s(redis_url: str) -> None:
    async with running_stack(redis_url=redis_url) as stack:
        owner = unique("dave")
        key, _ = stack.fake.add_key(owner=owner)
        assert (await get_models(stack, {"X-API-Key": key})()).status_code == 200
        del stack.fake.keys[key]  # the owner was disabled: the key is inactive from now on
        await publish(redis_url, RevocationEvent(kind="user", subject=owner, at=time.time()))
        assert await seconds_until(401, get_models(stack, {"X-API-Key": key})) < 1.0


async def test_revocation_state_in_redis_is_loaded_at_start(redis_url: str) -> None:
    signer = Signer()
    jti, user, key_id = unique("jti"), unique("erin"), unique("key")
    async with redis_client(redis_url) as redis:
        await redis.zadd(REVOKED_TOKENS_KEY, {jti: time.time() + 900, unique("old"): 1.0})
        await redis.hset(USER_CUTOFFS_KEY, user, str(time.time()))
        await redis.zadd(REVOKED_API_KEYS_KEY, {key_id: time.time()})
    async with running_stack(redis_url=redis_url) as stack:
        stack.fake.signers[0] = signer
        key, _ = stack.fake.add_key()
        stack.fake.keys[key] = stack.fake.keys[key].model_copy(update={"jti": key_id})
        revoked_jti = await get_models(stack, bearer(signer.token(jti=jti)))()
        revoked_user = await get_models(
            stack, bearer(signer.token(sub=user, iat=time.time() - 60))
        )()
        revoked_key = await get_models(stack, {"X-API-Key": key})()
        fine = await get_models(stack, bearer(signer.token()))()
    assert [revoked_jti.status_code, revoked_user.status_code, revoked_key.status_code] == [401] * 3
    assert fine.status_code == 200


async def test_revocation_malformed_event_is_ignored(redis_url: str) -> None:
    async with running_stack(redis_url=redis_url) as stack:
        jti = unique("jti")
        token = stack.fake.signer.token(jti=jti)
        async with redis_client(redis_url) as redis:
            await redis.publish(CHANNEL, b'{"kind": "everything", "subject": 1}')
            await redis.publish(CHANNEL, b"\xff not json")
        now = time.time()
        await publish(redis_url, RevocationEvent(kind="token", subject=jti, at=now, until=now + 60))
        assert await seconds_until(401, get_models(stack, bearer(token))) < 1.0


async def test_revocation_signing_keys_event_refetches_jwks(redis_url: str) -> None:
    async with running_stack(redis_url=redis_url, jwks_min_refetch_seconds=60) as stack:
        new = Signer()
        stack.fake.signers.append(new)
        headers = bearer(new.token())
        assert (await get_models(stack, headers)()).status_code == 401
        await publish(redis_url, RevocationEvent(kind="signing_keys", subject="*", at=time.time()))
        assert await seconds_until(200, get_models(stack, headers)) < 1.0
        assert stack.auth.handled.count(JWKS_PATH) >= 2


class OwnRedis:
    """redis-server processes on one port of this test's own, to kill and start again."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = data_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        """A fresh, empty redis-server on the port, once it answers PING."""
        data = self.data_dir / f"redis-{len(self.processes)}"
        command = redis_command(port=self.port, data_dir=data)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        self.processes.append(process)
        deadline = time.monotonic() + 10
        while not redis_pong(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        return process


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    yield redis
    for process in redis.processes:
        process.kill()
        process.wait(timeout=10)


async def test_revocation_state_is_reloaded_after_redis_restarts(own_redis: OwnRedis) -> None:
    first = own_redis.start()
    async with running_stack(redis_url=own_redis.url) as stack:
        jti = unique("jti")
        token = stack.fake.signer.token(jti=jti)
        assert (await get_models(stack, bearer(token))()).status_code == 200
        first.kill()
        first.wait(timeout=10)
        await asyncio.sleep(0.3)  # the gateway notices and starts reconnecting
        await asyncio.to_thread(own_redis.start)
        async with redis_client(own_redis.url) as redis:  # revoked while away: no event seen
            await redis.zadd(REVOKED_TOKENS_KEY, {jti: time.time() + 900})
        assert await seconds_until(401, get_models(stack, bearer(token))) < 3.0


async def test_revocation_feed_survives_a_hung_redis(own_redis: OwnRedis) -> None:
    process = own_redis.start()
    process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        async with running_stack(redis_url=own_redis.url) as stack:
            startup = time.monotonic() - started
            jti = unique("jti")
            token = stack.fake.signer.token(jti=jti)
            served = await get_models(stack, bearer(token))()
            process.send_signal(signal.SIGCONT)
            async with redis_client(own_redis.url) as redis:
                await redis.zadd(REVOKED_TOKENS_KEY, {jti: time.time() + 900})
            refused_after = await seconds_until(401, get_models(stack, bearer(token)))
    finally:
        process.send_signal(signal.SIGCONT)
    assert startup < 5.0
    assert served.status_code == 200
    assert refused_after < 4.0
