"""Following the revocation feed on Redis (servir_runtime.feed): subscribe, reload the whole
state, apply events.

The reload comes after the subscription, so an event published meanwhile is never lost (it is
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

from gateway.auth.revocations import RevocationMirror
from servir_runtime.feed import FeedFollower, FeedTimings
from shared_schemas.revocation import (
    CHANNEL,
    REVOKED_API_KEYS_KEY,
    REVOKED_TOKENS_KEY,
    USER_CUTOFFS_KEY,
    RevocationEvent,
)

logger = logging.getLogger("gateway.revocations")

PRUNE_SECONDS = 60.0
JOIN_TIMEOUTS = 5  # connect, subscribe, and the three reload commands


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
        self.store = store  # the service's short-timeout client, for the reload commands
        self.mirror = mirror
        self.on_keys_changed = on_keys_changed
        # The reload is held to the join's deadline: it is three quick commands.
        timings = FeedTimings(
            join_seconds=JOIN_TIMEOUTS * connect_timeout,
            confirm_seconds=connect_timeout,
            catch_up_joins=True,
            period_seconds=PRUNE_SECONDS,
            period_first=True,
        )
        self.follower = FeedFollower(
            name="revocation feed",
            channel=CHANNEL,
            redis_url=redis_url,
            connect_timeout=connect_timeout,
            timings=timings,
            handler=self,
            logger=logger,
        )

    @property
    def first_attempt(self) -> asyncio.Event:
        """Set once the first (re)load succeeded or failed."""
        return self.follower.first_attempt

    async def run(self) -> None:
        """Follow the feed forever, reconnecting with a short backoff."""
        await self.follower.run()

    async def catch_up(self) -> None:
        """Reload the whole state from Redis into the mirror."""
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

    def on_joined(self) -> None:
        """Connected: a signing_keys event may have been missed while disconnected."""
        logger.info("revocation feed connected", extra=self.mirror.counts())
        self.on_keys_changed()

    def on_lost(self, exc: BaseException, *, connected: bool, first: bool) -> None:
        """Said once per outage (and when the very first attempt fails)."""
        if connected or first:
            logger.warning(
                "revocation feed unavailable", extra={"reason": f"{type(exc).__name__}: {exc}"}
            )

    async def on_period(self) -> None:
        """Forget tokens past their expiry."""
        self.mirror.prune(now=time.time())

    async def on_message(self, data: bytes) -> None:
        """Apply one revocation event."""
        self._apply(data)

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
