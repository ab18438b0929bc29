"""Following the revocation feed on Redis: subscribe, reload the whole state, apply events.

Subscribing comes before the reload, so an event published meanwhile is never lost (it is
applied after the reload; applying it twice changes nothing). While Redis is down the mirror
keeps what it knows and the feed reconnects every second at most.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from gateway.revocations import RevocationMirror
from servir_runtime.redis_client import connect_subscriber
from shared_schemas.revocation import (
    CHANNEL,
    REVOKED_API_KEYS_KEY,
    REVOKED_TOKENS_KEY,
    USER_CUTOFFS_KEY,
    RevocationEvent,
)

logger = logging.getLogger("gateway.revocations")

POLL_SECONDS = 1.0
# A silent connection (a half-open socket, a stopped Redis) is noticed by PINGs left unanswered.
PING_SECONDS = 5.0
SILENT_LIMIT_SECONDS = 3 * PING_SECONDS
PRUNE_SECONDS = 60.0
BACKOFF_SECONDS = (0.1, 0.2, 0.5, 1.0)
JOIN_TIMEOUTS = 5  # connect, subscribe, and the three reload commands
FAILURES = (RedisError, OSError, TimeoutError)


class RevocationFeed:
    """Keeps a `RevocationMirror` in step with Redis; `run` never returns nor raises."""

    def __init__(
        self,
        *,
        redis_url: str,
        store: Redis,
        mirror: RevocationMirror,
        connect_timeout: float,
        on_keys_changed: Callable[[], None],
    ) -> None:
        self.redis_url = redis_url
        self.store = store  # the service's short-timeout client, for the reload commands
        self.mirror = mirror
        self.connect_timeout = connect_timeout
        self.on_keys_changed = on_keys_changed
        self.connected = False
        self.first_attempt = asyncio.Event()  # set once the first (re)load succeeded or failed

    async def run(self) -> None:
        """Follow the feed forever, reconnecting with a short backoff."""
        failures = 0
        while True:
            try:
                await self._session()
            except FAILURES as exc:
                self._lost(exc)
            except Exception:
                logger.exception("revocation feed failed")  # a bug: keep following anyway
            self.first_attempt.set()
            failures = 0 if self.connected else failures + 1
            self.connected = False
            await asyncio.sleep(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)])

    async def _session(self) -> None:
        client = connect_subscriber(self.redis_url, connect_timeout=self.connect_timeout)
        try:
            async with client.pubsub() as pubsub:
                # The connection has no read timeout: a Redis that accepts and then hangs
                # must not hold the feed before it has even joined.
                async with asyncio.timeout(JOIN_TIMEOUTS * self.connect_timeout):
                    await pubsub.subscribe(CHANNEL)
                    await self._confirmed(pubsub)
                    await self._reload()
                self._joined()
                await self._listen(pubsub)
        finally:
            await client.aclose()

    async def _confirmed(self, pubsub: PubSub) -> None:
        deadline = time.monotonic() + self.connect_timeout
        while time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=self.connect_timeout)
            if message is not None and message["type"] == "subscribe":
                return
        raise TimeoutError("no subscribe confirmation")

    async def _reload(self) -> None:
        horizon = time.time() - self.mirror.grace_seconds
        # Tokens past exp (and the leeway) are refused anyway: no need to hold them.
        tokens = await self.store.zrange(
            REVOKED_TOKENS_KEY, horizon, "+inf", byscore=True, withscores=True
        )
        cutoffs = await self.store.hgetall(USER_CUTOFFS_KEY)
        api_keys = await self.store.zrange(REVOKED_API_KEYS_KEY, 0, -1)
        # The client returns bytes (no decode_responses); redis-py types every reply loosely.
        self.mirror.load(
            tokens=[(_text(jti), until) for jti, until in cast(list[tuple[bytes, float]], tokens)],
            cutoffs=_cutoffs(cast(dict[bytes, bytes], cutoffs)),
            api_keys=[_text(key_id) for key_id in cast(list[bytes], api_keys)],
        )

    def _joined(self) -> None:
        self.connected = True
        self.first_attempt.set()
        logger.info("revocation feed connected", extra=self.mirror.counts())
        # A signing_keys event may have been missed while disconnected.
        self.on_keys_changed()

    def _lost(self, exc: BaseException) -> None:
        if self.connected or not self.first_attempt.is_set():
            logger.warning(
                "revocation feed unavailable", extra={"reason": f"{type(exc).__name__}: {exc}"}
            )

    async def _listen(self, pubsub: PubSub) -> None:
        heard = next_ping = next_prune = time.monotonic()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            now = time.monotonic()
            if message is not None:
                heard = now
                if message["type"] == "message":
                    self._apply(message["data"])
            if now - heard > SILENT_LIMIT_SECONDS:
                raise TimeoutError("Redis stopped answering PING")
            if now >= next_ping:
                await pubsub.ping()
                next_ping = now + PING_SECONDS
            if now >= next_prune:
                self.mirror.prune(now=time.time())
                next_prune = now + PRUNE_SECONDS

    def _apply(self, data: bytes) -> None:
        try:
            event = RevocationEvent.model_validate_json(data)
        except ValidationError:
            logger.warning("malformed revocation event ignored", extra={"size": len(data)})
            return
        self.mirror.apply(event)
        logger.info("revocation applied", extra={"kind": event.kind, "subject": event.subject})
        if event.kind == "signing_keys":
            self.on_keys_changed()


def _text(raw: bytes) -> str:
    # A member that is not UTF-8 matches no real id; it must not stop the reload.
    return raw.decode(errors="replace")


def _cutoffs(raw: dict[bytes, bytes]) -> dict[str, float]:
    cutoffs: dict[str, float] = {}
    for username, value in raw.items():
        try:
            cutoffs[_text(username)] = float(value)
        except ValueError:
            logger.warning("malformed user cutoff ignored", extra={"user": _text(username)})
    return cutoffs
