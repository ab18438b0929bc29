"""Following the other replicas: subscribe to the repository channel, catch up, apply events.

Subscribing comes before the catch-up (`sync`), so an event published meanwhile is applied
after it, never lost. While Redis is down the replica serves what it has and reconnects with a
short backoff; a periodic `sync` also picks up uploads and deletes whose events were missed.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from pydantic import ValidationError
from redis.asyncio.client import PubSub

from model_service import redis_keys
from model_service.registry import Registry
from model_service.repository import REDIS_FAILURES, ModelRepository
from model_service.store import ModelStore
from servir_runtime.redis_client import connect_subscriber
from shared_schemas.inference import RepositoryEvent

logger = logging.getLogger("servir.repository")

POLL_SECONDS = 1.0
PING_SECONDS = 5.0  # a half-open connection shows as PINGs left unanswered
SILENT_LIMIT_SECONDS = 3 * PING_SECONDS
SYNC_SECONDS = 30.0
BACKOFF_SECONDS = (0.1, 0.2, 0.5, 1.0)
JOIN_TIMEOUTS = 3  # connect, subscribe, confirmation


class RepositoryFeed:
    """Keeps this replica's registry in step with the others; `run` never returns nor raises."""

    def __init__(self, *, repository: ModelRepository, redis_url: str, timeout: float) -> None:
        self.repository = repository
        self.redis_url = redis_url
        self.timeout = timeout
        self.connected = False

    async def run(self) -> None:
        """Follow the channel forever, reconnecting with a short backoff."""
        failures = 0
        while True:
            try:
                await self._session()
            except REDIS_FAILURES as exc:
                if self.connected:
                    logger.warning("repository feed lost", extra={"reason": type(exc).__name__})
            except Exception:
                logger.exception("repository feed failed")  # a bug: keep following anyway
            failures = 0 if self.connected else failures + 1
            self.connected = False
            await asyncio.sleep(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)])

    async def _session(self) -> None:
        client = connect_subscriber(self.redis_url, connect_timeout=self.timeout)
        try:
            async with client.pubsub() as pubsub:
                async with asyncio.timeout(JOIN_TIMEOUTS * self.timeout):
                    await pubsub.subscribe(redis_keys.REPOSITORY_CHANNEL)
                    await self._confirmed(pubsub)
                _raise_if_cancelled()
                await self.repository.sync()
                self.connected = True
                logger.info("repository feed connected")
                await self._listen(pubsub)
        finally:
            await client.aclose()

    async def _confirmed(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(timeout=self.timeout)
            if message is not None and message["type"] == "subscribe":
                return

    async def _listen(self, pubsub: PubSub) -> None:
        heard = next_ping = next_sync = time.monotonic()
        next_sync += SYNC_SECONDS
        while True:
            _raise_if_cancelled()
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            if message is not None and message["type"] == "message":
                await self._apply(message["data"])
            now = time.monotonic()
            if message is not None:
                heard = now  # after the apply: a long load is not silence
            if now - heard > SILENT_LIMIT_SECONDS:
                raise TimeoutError("Redis stopped answering PING")
            if now >= next_ping:
                await pubsub.ping()
                next_ping = now + PING_SECONDS
            if now >= next_sync:
                await self.repository.sync()
                next_sync = time.monotonic() + SYNC_SECONDS

    async def _apply(self, data: bytes) -> None:
        try:
            event = RepositoryEvent.model_validate_json(data)
        except ValidationError:
            logger.warning("malformed repository event ignored", extra={"size": len(data)})
            return
        if event.origin == self.repository.replica_id:
            return  # applied before it was published
        await self.repository.apply(event)
        logger.info(
            "repository event applied",
            extra={"action": event.action, "model": event.name, "version": event.version},
        )


def _raise_if_cancelled() -> None:
    # On Python 3.11 a cancellation that lands while redis-py connects can be absorbed by its
    # own timeout handling; honour it here, or shutting down would wait for ever.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@asynccontextmanager
async def follow_repository(app: FastAPI, registry: Registry) -> AsyncIterator[ModelRepository]:
    """This replica's side of the repository (for the service's state), following the other
    replicas while the context lasts."""
    settings = registry.settings
    repository = ModelRepository(
        registry=registry,
        store=ModelStore(settings),
        redis=app.state.redis,
        replica_id=uuid.uuid4().hex,
    )
    feed = RepositoryFeed(
        repository=repository,
        redis_url=settings.redis_url,
        timeout=settings.redis_timeout_seconds,
    )
    task = asyncio.create_task(feed.run(), name="repository-feed")
    try:
        yield repository
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
