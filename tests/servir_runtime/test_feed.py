"""The pub/sub follower against a real redis-server of each test's own: the catch-up comes
after the subscription (nothing published in between is lost), a restarted Redis is followed
again, a silent one is noticed, a hung one does not hold the join, and cancelling ends it."""

import asyncio
import logging
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from servir_runtime.feed import FeedFollower, FeedTimings
from servir_runtime.processes import free_port, redis_command, redis_pong

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

CHANNEL = "servir:test:feed"
QUICK = FeedTimings(
    join_seconds=1.0,
    period_seconds=0.2,
    poll_seconds=0.05,
    ping_seconds=0.1,
    backoff_seconds=(0.05,),
)


class OwnRedis:
    """A redis-server on a port of this test's own, to stop, restart and freeze."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = redis_command(port=self.port, data_dir=self.data_dir)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_pong(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a frozen one too
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self, frozen: bool) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.kill()


class Recorder:
    """A handler that writes down every call, in order."""

    def __init__(self, on_catch_up: Callable[[], Awaitable[None]] | None = None) -> None:
        self.calls: list[str] = []
        self.lost: list[tuple[str, bool, bool]] = []
        self.on_catch_up = on_catch_up
        self.changed = asyncio.Event()

    def _note(self, call: str) -> None:
        self.calls.append(call)
        self.changed.set()

    async def catch_up(self) -> None:
        if self.on_catch_up is not None:
            await self.on_catch_up()
        self._note("catch_up")

    async def on_message(self, data: bytes) -> None:
        self._note(f"message {data.decode()}")

    async def on_period(self) -> None:
        self._note("period")

    def on_joined(self) -> None:
        self._note("joined")

    def on_lost(self, exc: BaseException, *, connected: bool, first: bool) -> None:
        self.lost.append((type(exc).__name__, connected, first))
        self._note("lost")

    def count(self, call: str) -> int:
        return self.calls.count(call)

    async def until(self, done: Callable[[], bool], seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while not done():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def following(
    url: str, handler: Recorder, timings: FeedTimings = QUICK
) -> AsyncIterator[FeedFollower]:
    follower = FeedFollower(
        name="test feed",
        channel=CHANNEL,
        redis_url=url,
        connect_timeout=0.5,
        timings=timings,
        handler=handler,
        logger=logging.getLogger("tests.feed"),
    )
    task = asyncio.create_task(follower.run())
    try:
        yield follower
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def publish(url: str, data: str) -> int:
    async with Redis.from_url(url) as redis:
        receivers: int = await redis.publish(CHANNEL, data)
        return receivers


async def test_an_event_published_during_the_catch_up_is_applied_after_it(
    own_redis: OwnRedis,
) -> None:
    async def publish_meanwhile() -> None:
        assert await publish(own_redis.url, "meanwhile") == 1  # already subscribed

    handler = Recorder(on_catch_up=publish_meanwhile)
    async with following(own_redis.url, handler) as follower:
        await handler.until(lambda: "message meanwhile" in handler.calls)
        assert handler.calls[:3] == ["catch_up", "joined", "message meanwhile"]
        assert follower.connected
        assert follower.first_attempt.is_set()
        await publish(own_redis.url, "later")
        await handler.until(lambda: "message later" in handler.calls)


async def test_the_periodic_callback_runs_while_listening(own_redis: OwnRedis) -> None:
    handler = Recorder()
    first = replace(QUICK, period_first=True, period_seconds=5.0)
    async with following(own_redis.url, handler, first):
        await handler.until(lambda: "period" in handler.calls)
        assert handler.calls[:3] == ["catch_up", "joined", "period"]
    handler = Recorder()
    async with following(own_redis.url, handler):  # every 0.2 s, the first after 0.2 s
        await handler.until(lambda: handler.count("period") >= 2)
        assert handler.calls[:2] == ["catch_up", "joined"]


async def test_a_restarted_redis_is_followed_again_after_a_new_catch_up(
    own_redis: OwnRedis,
) -> None:
    handler = Recorder()
    async with following(own_redis.url, handler) as follower:
        await handler.until(lambda: "joined" in handler.calls)
        own_redis.kill()
        await handler.until(lambda: "lost" in handler.calls)
        assert handler.lost[0][1:] == (True, False)  # it had joined; not the first attempt
        assert not follower.connected
        own_redis.start()
        await handler.until(lambda: handler.count("joined") == 2)
        assert handler.calls[-2:] == ["catch_up", "joined"]
        await publish(own_redis.url, "after")
        await handler.until(lambda: "message after" in handler.calls)


async def test_a_silent_redis_is_noticed_by_unanswered_pings(own_redis: OwnRedis) -> None:
    handler = Recorder()
    async with following(own_redis.url, handler):
        await handler.until(lambda: "joined" in handler.calls)
        own_redis.freeze(True)
        started = time.monotonic()
        await handler.until(lambda: "lost" in handler.calls)
        noticed = time.monotonic() - started
        own_redis.freeze(False)
        assert handler.lost[0] == ("TimeoutError", True, False)
        # Three PING intervals without a word, and one poll or so to see it.
        assert QUICK.silent_seconds <= noticed < QUICK.silent_seconds + 1.0
        await handler.until(lambda: handler.count("joined") == 2)


async def test_a_hung_redis_does_not_hold_the_join(own_redis: OwnRedis) -> None:
    own_redis.freeze(True)
    handler = Recorder()
    started = time.monotonic()
    async with following(own_redis.url, handler) as follower:
        await asyncio.wait_for(follower.first_attempt.wait(), timeout=5)
        assert time.monotonic() - started < QUICK.join_seconds + 1.0
        assert handler.lost[0] == ("TimeoutError", False, True)  # the first attempt failed
        assert "joined" not in handler.calls
        own_redis.freeze(False)
        await handler.until(lambda: "joined" in handler.calls)


async def test_a_dead_redis_is_retried_quietly_until_it_comes(own_redis: OwnRedis) -> None:
    own_redis.kill()
    handler = Recorder()
    async with following(own_redis.url, handler) as follower:
        await handler.until(lambda: len(handler.lost) >= 3)
        assert handler.lost[0][1:] == (False, True)
        assert all(lost[1:] == (False, False) for lost in handler.lost[1:])
        assert follower.first_attempt.is_set()
        own_redis.start()
        await handler.until(lambda: "joined" in handler.calls)


async def test_a_failing_handler_does_not_stop_the_follower(own_redis: OwnRedis) -> None:
    failed = False

    async def fail_once() -> None:
        nonlocal failed
        if not failed:
            failed = True
            raise ValueError("a bug")

    handler = Recorder(on_catch_up=fail_once)
    async with following(own_redis.url, handler):
        await handler.until(lambda: "joined" in handler.calls)
    assert handler.lost == []  # a bug is logged, not a Redis loss


async def test_cancelling_ends_the_follower_while_it_listens(own_redis: OwnRedis) -> None:
    handler = Recorder()
    async with following(own_redis.url, handler):
        await handler.until(lambda: "joined" in handler.calls)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
