"""Following a Redis pub/sub channel: subscribe, catch up, then apply each event; reconnect on loss.

Subscribing comes before the catch-up (reloading what the channel's events change), so an
event published meanwhile is delivered after it, never lost; applying an event the catch-up
already saw must change nothing. While Redis is down the follower's owner keeps what it has and
the follower reconnects with a short backoff. A silent connection (a half-open socket, a stopped
Redis) is noticed by PINGs left unanswered. The gateway's revocations and the model-service's
repository follow their channels with it.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from servir_runtime.redis_client import connect_subscriber

FAILURES = (RedisError, OSError, TimeoutError)


class FeedHandler(Protocol):
    """What a follower calls: the owner of the state the channel's events change."""

    async def catch_up(self) -> None:
        """Reload the whole state (after each subscription is confirmed)."""

    async def on_message(self, data: bytes) -> None:
        """Apply one event published on the channel."""

    async def on_period(self) -> None:
        """Periodic work while listening (pruning, a sync for events missed anyway)."""

    def on_joined(self) -> None:
        """Subscribed and caught up: the follower is connected."""

    def on_lost(self, exc: BaseException, *, connected: bool, first: bool) -> None:
        """A session ended on a Redis failure; `connected`: it had joined, `first`: no session
        had joined or failed before."""


@dataclass(frozen=True, slots=True)
class FeedTimings:
    """How long a follower waits for each step, and how often it checks."""

    join_seconds: float  # connect, subscribe, confirmation (and the catch-up if catch_up_joins)
    confirm_seconds: float | None = None  # the confirmation's own limit within the join
    catch_up_joins: bool = False  # False: a long catch-up (loading models) is not held to it
    period_seconds: float = 60.0
    period_first: bool = False  # on_period runs once as soon as listening starts
    poll_seconds: float = 1.0
    ping_seconds: float = 5.0
    backoff_seconds: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0)

    @property
    def silent_seconds(self) -> float:
        """How long without a word (not even a PONG) before the connection counts as lost."""
        return 3 * self.ping_seconds


class FeedFollower:
    """Follows one channel for a `FeedHandler`; `run` never returns nor raises (but is
    cancelled)."""

    def __init__(
        self,
        *,
        name: str,
        channel: str,
        redis_url: str,
        connect_timeout: float,
        timings: FeedTimings,
        handler: FeedHandler,
        logger: logging.Logger,
    ) -> None:
        self.name = name  # for the logs: "revocation feed"
        self.channel = channel
        self.redis_url = redis_url
        self.connect_timeout = connect_timeout
        self.timings = timings
        self.handler = handler
        self.logger = logger
        self.connected = False
        self.first_attempt = asyncio.Event()  # set once the first session joined or failed

    async def run(self) -> None:
        """Follow the channel forever, reconnecting with a short backoff."""
        failures = 0
        while True:
            try:
                await self._session()
            except FAILURES as exc:
                first = not self.first_attempt.is_set()
                self.handler.on_lost(exc, connected=self.connected, first=first)
            except Exception:
                self.logger.exception("%s failed", self.name)  # a bug: keep following anyway
            self.first_attempt.set()
            failures = 0 if self.connected else failures + 1
            self.connected = False
            backoff = self.timings.backoff_seconds
            await asyncio.sleep(backoff[min(failures, len(backoff) - 1)])

    async def _session(self) -> None:
        client = connect_subscriber(self.redis_url, connect_timeout=self.connect_timeout)
        try:
            async with client.pubsub() as pubsub:
                await self._join(pubsub)
                raise_if_cancelled()
                if not self.timings.catch_up_joins:
                    await self.handler.catch_up()
                self.connected = True
                self.first_attempt.set()
                self.handler.on_joined()
                await self._listen(pubsub)
        finally:
            await client.aclose()

    async def _join(self, pubsub: PubSub) -> None:
        # The connection has no read timeout: a Redis that accepts and then hangs must not
        # hold the follower before it has even joined.
        async with asyncio.timeout(self.timings.join_seconds):
            await pubsub.subscribe(self.channel)
            await self._confirmed(pubsub)
            if self.timings.catch_up_joins:
                await self.handler.catch_up()

    async def _confirmed(self, pubsub: PubSub) -> None:
        limit = self.timings.confirm_seconds
        deadline = time.monotonic() + limit if limit is not None else None
        while deadline is None or time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=self.connect_timeout)
            if message is not None and message["type"] == "subscribe":
                return
        raise TimeoutError("no subscribe confirmation")

    async def _listen(self, pubsub: PubSub) -> None:
        timings = self.timings
        heard = next_ping = time.monotonic()
        next_period = heard if timings.period_first else heard + timings.period_seconds
        while True:
            raise_if_cancelled()
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=timings.poll_seconds
            )
            if message is not None and message["type"] == "message":
                await self.handler.on_message(message["data"])
            now = time.monotonic()
            if message is not None:
                heard = now  # after the handler: a long apply is not silence
            if now - heard > timings.silent_seconds:
                raise TimeoutError("Redis stopped answering PING")
            if now >= next_ping:
                await pubsub.ping()
                next_ping = now + timings.ping_seconds
            if now >= next_period:
                await self.handler.on_period()
                next_period = time.monotonic() + timings.period_seconds


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task is being cancelled.

    On Python 3.11 a cancellation that lands while redis-py connects can be absorbed by its own
    timeout handling; honour it here, or shutting down would wait for ever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
