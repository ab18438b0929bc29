"""Following the other replicas (servir_runtime.feed): subscribe to the repository channel,
catch up, apply events.

Subscribing comes before the catch-up (`sync`), so an event published meanwhile is applied
after it, never lost. While Redis is down the replica serves what it has and reconnects with a
short backoff; a periodic `sync` also picks up uploads and deletes whose events were missed.

Beside the feed, `watch_store` runs the same `sync` every MODEL_WATCH_INTERVAL_SECONDS, so a
bundle dropped in the store (or, in containers, in MODEL_IMPORT_DIR) serves without a restart.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial

import anyio.to_thread
from fastapi import FastAPI
from pydantic import ValidationError

from model_service import redis_keys
from model_service.models.registry import Registry
from model_service.repository.imports import NewImports
from model_service.repository.repository import REDIS_FAILURES, ModelRepository
from model_service.repository.store import ModelStore
from servir_runtime.feed import FeedFollower, FeedTimings
from servir_runtime.state import service_redis
from shared_schemas.inference import RepositoryEvent

logger = logging.getLogger("servir.repository")

SYNC_SECONDS = 30.0
JOIN_TIMEOUTS = 3  # connect, subscribe, confirmation


class RepositoryFeed:
    """Keeps this replica's registry in step with the others; `run` never returns nor raises."""

    def __init__(self, *, repository: ModelRepository, redis_url: str, timeout: float) -> None:
        self.repository = repository
        # The catch-up (a sync that may load models) is not held to the join's deadline.
        timings = FeedTimings(join_seconds=JOIN_TIMEOUTS * timeout, period_seconds=SYNC_SECONDS)
        self.follower = FeedFollower(
            name="repository feed",
            channel=redis_keys.REPOSITORY_CHANNEL,
            redis_url=redis_url,
            connect_timeout=timeout,
            timings=timings,
            handler=self,
            logger=logger,
        )

    async def run(self) -> None:
        """Follow the channel forever, reconnecting with a short backoff."""
        await self.follower.run()

    async def catch_up(self) -> None:
        """Bring the registry in step with the shared store."""
        await self.repository.sync()

    async def on_period(self) -> None:
        """Pick up uploads and deletes whose events were missed."""
        await self.repository.sync()

    def on_joined(self) -> None:
        """Subscribed and in step."""
        logger.info("repository feed connected")

    def on_lost(self, exc: BaseException, *, connected: bool, first: bool) -> None:
        """Said once per outage: a replica that never joined keeps quiet."""
        if connected:
            logger.warning("repository feed lost", extra={"reason": type(exc).__name__})

    async def on_message(self, data: bytes) -> None:
        """Apply another replica's event."""
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


async def watch_store(repository: ModelRepository, interval: float) -> None:
    """Rescan the store (after importing what is new in MODEL_IMPORT_DIR) every `interval`
    seconds, until cancelled; a failed scan is retried at the next."""
    settings = repository.registry.settings
    scans: list[Callable[[], Awaitable[object]]] = [repository.sync]
    if settings.import_dir is not None:
        listing = partial(NewImports, source=settings.import_dir, store=repository.store)
        imports = await anyio.to_thread.run_sync(listing)
        scans.insert(0, lambda: anyio.to_thread.run_sync(imports.scan))
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            for scan in scans:
                await scan()
            failing = False
        except REDIS_FAILURES as exc:  # the feed says when Redis is lost: said once here
            if not failing:
                logger.warning("store watch paused", extra={"reason": type(exc).__name__})
            failing = True
        except Exception:
            logger.exception("store watch failed")  # a bug: keep watching anyway


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def follow_repository(app: FastAPI, registry: Registry) -> AsyncIterator[ModelRepository]:
    """This replica's side of the repository (for the service's state), following the other
    replicas while the context lasts."""
    settings = registry.settings
    repository = ModelRepository(
        registry=registry,
        store=ModelStore(settings),
        redis=service_redis(app),
        replica_id=uuid.uuid4().hex,
    )
    feed = RepositoryFeed(
        repository=repository,
        redis_url=settings.redis_url,
        timeout=settings.redis_timeout_seconds,
    )
    # Before serving: a replica that starts must not serve its lowest version by default
    # while the model's production alias says otherwise (the feed's catch-up comes later).
    with suppress(*REDIS_FAILURES):
        await repository.aliases.refresh()
    tasks = [asyncio.create_task(feed.run(), name="repository-feed")]
    if settings.watch_interval_seconds > 0:
        watching = watch_store(repository, settings.watch_interval_seconds)
        tasks.append(asyncio.create_task(watching, name="store-watch"))
    try:
        yield repository
    finally:
        for task in tasks:
            await _stopped(task)
