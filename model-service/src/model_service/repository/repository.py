"""This replica's side of the shared model repository: it applies a change, then tells the others.

The store on disk carries uploads and deletes; Redis carries the rest: the set of versions an
admin unloaded, and an event per change. A replica that missed events catches up by `sync`
(store + unloaded set), so a lost event is late, never lost for good.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from functools import partial

import anyio.to_thread
from redis.asyncio import Redis
from redis.exceptions import RedisError

from model_service import redis_keys
from model_service.errors import BadBundle, NotFound
from model_service.models.registry import ModelVersion, Registry
from model_service.repository.alias_keeper import AliasKeeper
from model_service.repository.arrivals import Arrivals
from model_service.repository.store import ModelStore
from model_service.repository.uploads import receive_upload
from servir_runtime.problems import ServiceError
from shared_schemas.inference import RepositoryAction, RepositoryEvent, RepositoryIndexEntry

logger = logging.getLogger("servir.repository")
REDIS_FAILURES = (RedisError, OSError, TimeoutError)
# Work folders older than this are a crashed replica's leftovers, not an upload in progress.
STALE_WORK_SECONDS = 3600.0


class BroadcastFailed(ServiceError):
    """The change is done on this replica, but Redis could not carry it to the others."""

    status = 503
    title = "Service Unavailable"

    def __init__(self) -> None:
        detail = (
            "Done on this replica, but Redis is unreachable, so the other replicas were not "
            "told; retrying is safe."
        )
        super().__init__(detail, headers={"Retry-After": "5"})


def _key(name: str, version: str) -> str:
    return f"{name}/{version}"


class ModelRepository:
    """Loads, unloads, installs and deletes bundles here, and broadcasts each change."""

    def __init__(
        self, *, registry: Registry, store: ModelStore, redis: Redis, replica_id: str
    ) -> None:
        self.registry = registry
        self.store = store
        self.redis = redis
        self.replica_id = replica_id
        # One change at a time on this replica: a load in a worker thread and an unload on
        # the loop must not interleave.
        self.lock = asyncio.Lock()
        self.aliases = AliasKeeper(registry=registry, redis=redis, replica_id=replica_id)
        self.arrivals = Arrivals(registry.settings.pickup_grace_seconds)

    async def upload(
        self, *, chunks: AsyncIterator[bytes], content_type: str | None, content_length: str | None
    ) -> tuple[ModelVersion, bool]:
        """Receive, unpack, test-load, install and serve an uploaded bundle; tell the others.

        Also True when the bundle is new; False when the very same bundle was installed already
        (a retry after a timeout), which is served as the first upload would have it.
        """
        archive = await receive_upload(
            chunks=chunks,
            content_type=content_type,
            content_length=content_length,
            into=await anyio.to_thread.run_sync(self.store.incoming),
            max_bytes=self.store.settings.max_bundle_bytes,
        )
        staged = await anyio.to_thread.run_sync(self.store.stage, archive)
        name, version = staged.name, staged.version
        async with self.lock:
            created = not staged.installed and await anyio.to_thread.run_sync(
                self.store.install, staged
            )
            loaded = self.registry.models.get(name, {}).get(version)
            if created or loaded is None:
                loaded = await self._load_one(name, version)
            if loaded is not None:
                await self.aliases.first_production(name)
        if loaded is None:
            reason = self.registry.failures.get(_key(name, version), "unknown")
            if created:  # a bundle installed by an earlier upload stays
                async with self.lock:
                    await self._remove(name, version)
                await self._announce("delete", name, version, required=False)
            raise BadBundle(f"The bundle cannot load: {reason}.")
        # The store holds the change: a replica that misses the event finds it when it syncs.
        await self._announce("load", name, version, required=False)
        return loaded, created

    async def delete(self, name: str, version: str) -> None:
        """Stop serving a version everywhere and remove its folder from the store; 409 while
        an alias points at it, unless it is the model's last version (its aliases go too)."""
        async with self.lock:
            if not self.store.folder(name, version).is_dir():
                raise NotFound(f"No model {name} version {version}.")
            last = self.store.versions(name) == [version]
            await self.aliases.release(name, version, last=last)
            await self._remove(name, version)
        await self._announce("delete", name, version, required=False)

    async def _remove(self, name: str, version: str) -> None:  # under the lock
        await anyio.to_thread.run_sync(self.store.remove, name, version)
        with suppress(NotFound):
            self.registry.unload(name, version)

    async def load(self, name: str) -> list[str]:
        """(Re)load every version of `name` from the store, here and on every replica."""
        versions = self.store.versions(name)
        if not versions:
            raise NotFound(f"No model {name} in the store.")
        async with self.lock:
            failed = [v for v in versions if await self._load_one(name, v) is None]
        await self._announce("load", name, None, required=True, versions=versions)
        if failed:
            reasons = "; ".join(
                f"{_key(name, v)}: {self.registry.failures.get(_key(name, v))}" for v in failed
            )
            raise BadBundle(f"The model failed to load: {reasons}.")
        return versions

    async def unload(self, name: str) -> list[str]:
        """Stop serving every version of `name`, here and on every replica; return them."""
        versions = self.store.versions(name)
        async with self.lock:
            loaded = list(self.registry.models.get(name, {}))
            try:
                self.registry.unload(name)
            except NotFound:
                if not versions:
                    raise
        keep_out = sorted({*versions, *loaded}, key=int)
        await self._announce("unload", name, None, required=True, versions=keep_out)
        return keep_out

    async def route(self, name: str, change: Callable[[AliasKeeper], Awaitable[None]]) -> None:
        """Change a model's aliases or traffic split (`change`), here and on every replica."""
        async with self.lock:  # not while this replica loads or deletes a version
            if not self.store.versions(name) and name not in self.registry.models:
                raise NotFound(f"No model {name}.")
            await change(self.aliases)

    async def _load_one(self, name: str, version: str) -> ModelVersion | None:
        # skops loading is CPU-bound: off the event loop.
        return await anyio.to_thread.run_sync(self.registry.load, name, version)

    async def _announce(
        self,
        action: RepositoryAction,
        name: str,
        version: str | None,
        *,
        required: bool,
        versions: list[str] | None = None,
    ) -> None:
        event = RepositoryEvent(action=action, name=name, version=version, origin=self.replica_id)
        if versions is None:
            versions = [version] if version else []
        keys = [_key(name, v) for v in versions]
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if keys and action == "unload":
                    pipe.sadd(redis_keys.UNLOADED, *keys)
                elif keys:
                    pipe.srem(redis_keys.UNLOADED, *keys)
                pipe.publish(redis_keys.REPOSITORY_CHANNEL, event.model_dump_json())
                await pipe.execute()
        except REDIS_FAILURES as exc:
            logger.warning(
                "repository broadcast failed",
                extra={"action": action, "model": name, "reason": type(exc).__name__},
            )
            if required:
                raise BroadcastFailed from None

    async def apply(self, event: RepositoryEvent) -> None:
        """Follow a change another replica made (it has updated the store and Redis)."""
        if event.action in {"alias", "traffic"}:  # no lock: a load here must not hold it up
            await self.aliases.refresh()
            return
        async with self.lock:
            if event.action == "load":
                versions = [event.version] if event.version else self.store.versions(event.name)
                for version in versions:
                    await self._load_one(event.name, version)
            else:
                with suppress(NotFound):
                    self.registry.unload(event.name, event.version)
            await self.aliases.refresh()

    async def sync(self) -> None:
        """Catch up with the store and the unloaded set: load what is new, drop what is gone."""
        unloaded = {redis_keys.text(k) for k in await self.redis.smembers(redis_keys.UNLOADED)}
        await anyio.to_thread.run_sync(partial(self.store.sweep, older_than=STALE_WORK_SECONDS))
        async with self.lock:
            on_disk = {_key(p.parent.name, p.name) for p in self.registry.bundle_folders()}
            known = set(self.registry.failures) | {
                _key(name, version)
                for name, versions in self.registry.models.items()
                for version in versions
            }
            for key in sorted((known - on_disk) | (known & unloaded)):
                name, version = key.split("/", 1)
                with suppress(NotFound):
                    self.registry.unload(name, version)
            await self._pick_up(sorted(on_disk - known - unloaded))
            await self.aliases.refresh()

    async def _pick_up(self, keys: list[str]) -> None:
        """Load the new bundles found in the store once whole (arrivals.py)."""
        self.arrivals.forget_missing()
        for key in keys:
            name, version = key.split("/", 1)
            folder = self.store.root / name / version  # any name: a bad one fails to load
            if not await anyio.to_thread.run_sync(self.arrivals.ready, folder):
                continue  # maybe still being copied: not a failure yet
            if await self._load_one(name, version) is not None:
                await self.aliases.first_production(name)

    def index(self, *, ready_only: bool = False) -> list[RepositoryIndexEntry]:
        """Every bundle folder in the store: READY here, or UNAVAILABLE and why."""
        entries = []
        for folder in self.registry.bundle_folders():
            name, version = folder.parent.name, folder.name
            if version in self.registry.models.get(name, {}):
                entry = RepositoryIndexEntry(name=name, version=version, state="READY", reason="")
            else:
                reason = self.registry.failures.get(_key(name, version)) or (
                    self.arrivals.reason(folder) or "unloaded"
                )
                entry = RepositoryIndexEntry(
                    name=name, version=version, state="UNAVAILABLE", reason=reason
                )
            if entry.state == "READY" or not ready_only:
                entries.append(entry)
        return sorted(entries, key=lambda e: (e.name, len(e.version), e.version))
