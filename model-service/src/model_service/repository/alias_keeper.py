"""This replica's side of the aliases: reads Redis into the registry's table, and sets,
removes, releases and seeds them there, telling the other replicas (aliases.py says what an
alias is)."""

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from model_service import redis_keys
from model_service.errors import Conflict
from model_service.repository.aliases import (
    PRODUCTION,
    REDIS_FAILURES,
    AliasesUnreachable,
    AliasRefused,
    AliasTable,
    check_alias_name,
    field,
    read_aliases,
)
from model_service.repository.traffic import Split
from servir_runtime.problems import NotFound
from shared_schemas.inference import RepositoryEvent, TrafficSplit

if TYPE_CHECKING:  # the registry keeps an AliasTable: a runtime import would go round
    from model_service.models.registry import ModelVersion, Registry

logger = logging.getLogger("servir.repository")
# Concurrent alias writes on other replicas make a counted write start again; this many times.
WRITE_ATTEMPTS = 5


class AliasKeeper:
    """This replica's side of the aliases: reads Redis into the registry's table, and sets,
    releases and seeds them there, telling the other replicas."""

    def __init__(self, *, registry: "Registry", redis: Redis, replica_id: str) -> None:
        self.registry = registry
        self.redis = redis
        self.replica_id = replica_id
        # Reads are numbered: one answered after a later read (or a local change) was applied
        # is stale, and dropped.
        self.reads = 0
        self.applied = 0

    def _take(self, change: Callable[[AliasTable], bool]) -> None:
        if change(self.registry.aliases):
            self.registry.generation += 1  # the OpenAPI document's default paths move

    async def refresh(self) -> None:
        """Take Redis's aliases (after an event, and on every sync)."""
        self.reads += 1
        mine = self.reads
        stored = await read_aliases(self.redis)
        if mine > self.applied:
            self.applied = mine
            self._take(lambda aliases: aliases.replace(stored))

    def _set_here(self, name: str, alias: str, version: str | None, public: bool = False) -> None:
        self.reads += 1
        self.applied = self.reads
        self._take(lambda aliases: aliases.point(name, alias, version, public=public))

    async def point(self, name: str, alias: str, version: str, *, public: bool = False) -> None:
        """Point `alias` of `name` at a loaded `version` (public or not), in Redis and for
        every replica; a new alias beyond MODEL_MAX_ALIASES is 422."""
        check_alias_name(alias)
        if version not in self.registry.models.get(name, {}):
            detail = f"Version {version} of {name} is not loaded: an alias points at a loaded one."
            raise AliasRefused(detail, loc=["body", "version"])
        await self._write(name, alias, version, public)
        self._set_here(name, alias, version, public)

    async def remove(self, name: str, alias: str) -> None:
        """Remove `alias` of `name`, in Redis and for every replica: 404 when it has no such
        alias, 409 for `production` (the unversioned routes need it: point it elsewhere)."""
        check_alias_name(alias)
        if alias == PRODUCTION:
            raise Conflict(
                f"The production alias serves {name}'s unversioned routes: point it at another "
                f"version (PUT /models/{name}/aliases/production) instead of removing it."
            )
        if alias not in self.registry.aliases.of(name):
            raise NotFound(f"Model {name} has no alias {alias}.")
        await self._write(name, alias, None, False)
        self._set_here(name, alias, None)

    async def set_traffic(self, name: str, spec: TrafficSplit | None) -> None:
        """Set (None: clear) the model's traffic split, in Redis and for every replica; a
        version it names that is not loaded here is 422."""
        loaded = self.registry.models.get(name, {})
        for version in spec.split if spec is not None else ():
            if version not in loaded:
                detail = f"Version {version} of {name} is not loaded: a split sends to loaded ones."
                raise AliasRefused(detail, loc=["body", "split", version])
        if spec is not None and spec.shadow is not None:
            _check_shadow(name, spec, loaded)
        event = RepositoryEvent(action="traffic", name=name, origin=self.replica_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if spec is None:
                    pipe.hdel(redis_keys.TRAFFIC, name)
                else:
                    pipe.hset(redis_keys.TRAFFIC, name, spec.model_dump_json())
                pipe.publish(redis_keys.REPOSITORY_CHANNEL, event.model_dump_json())
                await pipe.execute()
        except REDIS_FAILURES:
            raise AliasesUnreachable from None
        self.reads += 1
        self.applied = self.reads
        split = Split.of(spec) if spec is not None else None
        self._take(lambda table: table.set_split(name, split))

    async def _write(self, name: str, alias: str, version: str | None, public: bool) -> None:
        """Set (or, with None, remove) the alias in Redis and tell the other replicas. A new
        alias is counted against the model's others in the same transaction (WATCH): two
        replicas adding at once cannot pass the limit together."""
        key = field(name, alias)
        event = RepositoryEvent(
            action="alias", name=name, version=version, alias=alias, origin=self.replica_id
        )
        try:
            for _ in range(WRITE_ATTEMPTS):
                async with self.redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(redis_keys.ALIASES)
                        if version is not None:
                            await self._check_room(pipe, name, alias)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        if version is None:
                            pipe.hdel(redis_keys.ALIASES, key)
                        else:
                            pipe.hset(redis_keys.ALIASES, key, version)
                        (pipe.sadd if public else pipe.srem)(redis_keys.ALIASES_PUBLIC, key)
                        pipe.publish(redis_keys.REPOSITORY_CHANNEL, event.model_dump_json())
                        await pipe.execute()
                        return
                    except WatchError:
                        continue  # another replica wrote an alias meanwhile: count again
        except REDIS_FAILURES:
            raise AliasesUnreachable from None
        raise AliasesUnreachable

    async def _check_room(self, pipe: Any, name: str, alias: str) -> None:
        limit = self.registry.settings.max_aliases
        fields = [redis_keys.text(f) for f in await pipe.hkeys(redis_keys.ALIASES)]
        mine = {f.partition("@")[2] for f in fields if f.partition("@")[0] == name}
        if alias not in mine and len(mine) >= limit:
            detail = (
                f"Model {name} has {len(mine)} aliases, the most it may have (MODEL_MAX_ALIASES)."
            )
            raise AliasRefused(detail, loc=["path", "alias"])

    async def release(self, name: str, version: str, *, last: bool) -> None:
        """Before `version` is deleted: 409 while an alias points at it, unless it is the
        model's `last` version, whose aliases then go with it."""
        try:
            stored = await read_aliases(self.redis)
            aliases = stored.table.get(name, {})
            split = stored.splits.get(name)
            shadow = split.spec.shadow if split is not None else None
            sent = split is not None and version in split.spec.split
            if (sent or (shadow is not None and shadow.version == version)) and not last:
                raise Conflict(
                    f"The traffic split of {name} sends requests to version {version}: change "
                    f"it first (PUT or DELETE /models/{name}/traffic)."
                )
            pointing = sorted(a for a, v in aliases.items() if v == version)
            if pointing and not last:
                alias = pointing[0]
                raise Conflict(
                    f"Alias {alias} of {name} points at version {version}: point it at another "
                    f"version first (PUT /models/{name}/aliases/{alias})."
                )
            if last and aliases:
                fields = [field(name, a) for a in aliases]
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hdel(redis_keys.ALIASES, *fields)
                    pipe.srem(redis_keys.ALIASES_PUBLIC, *fields)
                    pipe.hdel(redis_keys.TRAFFIC, name)
                    await pipe.execute()
        except REDIS_FAILURES:
            raise AliasesUnreachable from None
        for alias in aliases if last else ():
            self._set_here(name, alias, None)
        if last:
            self._take(lambda table: table.set_split(name, None))

    async def first_production(self, name: str) -> None:
        """A model without a `production` alias gets its lowest loaded version (its first,
        on a first upload): set only if absent, so a later version never takes over."""
        versions = self.registry.versions(name)
        if not versions:
            return
        try:
            await self.redis.hsetnx(redis_keys.ALIASES, field(name, PRODUCTION), versions[0])
            await self.refresh()
        except REDIS_FAILURES as exc:
            # The lowest loaded version serves meanwhile, as without an alias.
            logger.warning(
                "production alias not seeded", extra={"model": name, "reason": type(exc).__name__}
            )


def _check_shadow(name: str, spec: TrafficSplit, loaded: Mapping[str, "ModelVersion"]) -> None:
    """422 unless the shadow version is loaded and takes the very rows the split's take."""
    shadow = spec.shadow.version if spec.shadow is not None else ""
    if shadow not in loaded:
        detail = f"Version {shadow} of {name} is not loaded: a shadow is a loaded version."
        raise AliasRefused(detail, loc=["body", "shadow", "version"])
    features = loaded[shadow].manifest.features
    for version in spec.split:
        if loaded[version].manifest.features != features:
            detail = (
                f"Version {shadow} of {name} takes other features than version {version}: a "
                "shadow gets the same rows, so its features must be the same."
            )
            raise AliasRefused(detail, loc=["body", "shadow", "version"])
