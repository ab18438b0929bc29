"""Aliases: a model's names for its versions. `production` is the version its unversioned
routes serve (`/models/{name}/predict`, V2 without a version, metadata's `default_version`).

Redis holds them (one hash, `redis_keys.ALIASES`), so every replica reads the same; each
replica keeps a copy here, which the repository refreshes after every repository event and
every sync. A model without a `production` alias (bundles already in the store at start)
serves its lowest loaded version: a new version never takes traffic by itself.
"""

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from model_service import redis_keys
from model_service.errors import Conflict, InvalidInput
from servir_runtime.problems import ServiceError
from shared_schemas.inference import RepositoryEvent
from shared_schemas.problems import FieldError

if TYPE_CHECKING:  # the registry keeps an AliasTable: a runtime import would go round
    from model_service.models.registry import Registry

logger = logging.getLogger("servir.repository")
REDIS_FAILURES = (RedisError, OSError, TimeoutError)

PRODUCTION = "production"
# Every alias name matches this; for now only the ones in SETTABLE can be set.
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
SETTABLE = frozenset({PRODUCTION})
Table = dict[str, dict[str, str]]  # model -> alias -> version


class AliasRefused(InvalidInput):
    """An alias name or version that cannot be set: 422 naming the field."""

    def __init__(self, detail: str, *, loc: list[str | int]) -> None:
        super().__init__(detail, errors=[FieldError(loc=loc, msg=detail, type="value_error")])


class AliasesUnreachable(ServiceError):
    """Redis, which holds the aliases, did not answer: nothing changed."""

    status = 503
    title = "Service Unavailable"

    def __init__(self) -> None:
        detail = "Redis, which holds the aliases, is unreachable: nothing changed; retry later."
        super().__init__(detail, headers={"Retry-After": "5"})


def check_alias_name(alias: str) -> None:
    """422 unless `alias` is a name that can be set."""
    if not ALIAS_NAME.match(alias):
        detail = f"An alias name matches {ALIAS_NAME.pattern}; {alias[:40]!r} does not."
        raise AliasRefused(detail, loc=["path", "alias"])
    if alias not in SETTABLE:
        names = ", ".join(sorted(SETTABLE))
        raise AliasRefused(f"Only these aliases can be set: {names}.", loc=["path", "alias"])


def field(name: str, alias: str) -> str:
    """The alias's field in the ALIASES hash."""
    return f"{name}@{alias}"


async def read_aliases(redis: Redis) -> Table:
    """Every model's aliases, as Redis holds them."""
    table: Table = {}
    for key, value in (await redis.hgetall(redis_keys.ALIASES)).items():
        name, _, alias = redis_keys.text(key).partition("@")
        table.setdefault(name, {})[alias] = redis_keys.text(value)
    return table


class AliasTable:
    """This replica's copy of the aliases (model -> alias -> version)."""

    def __init__(self) -> None:
        self.table: Table = {}

    def of(self, name: str) -> dict[str, str]:
        """The model's aliases (a copy)."""
        return dict(self.table.get(name, {}))

    def production(self, name: str) -> str | None:
        """The version the model's `production` alias points at, if it has one."""
        aliases = self.table.get(name)
        return aliases.get(PRODUCTION) if aliases else None

    def point(self, name: str, alias: str, version: str | None) -> bool:
        """Point `alias` at `version` (None removes it); whether anything changed."""
        aliases = self.table.setdefault(name, {})
        before = aliases.get(alias)
        if version is None:
            aliases.pop(alias, None)
        else:
            aliases[alias] = version
        if not aliases:
            self.table.pop(name, None)
        return before != version

    def replace(self, table: Table) -> bool:
        """Take Redis's whole table; whether anything changed."""
        changed = table != self.table
        self.table = table
        return changed


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
        table = await read_aliases(self.redis)
        if mine > self.applied:
            self.applied = mine
            self._take(lambda aliases: aliases.replace(table))

    def _set_here(self, name: str, alias: str, version: str | None) -> None:
        self.reads += 1
        self.applied = self.reads
        self._take(lambda aliases: aliases.point(name, alias, version))

    async def point(self, name: str, alias: str, version: str) -> None:
        """Point `alias` of `name` at a loaded `version`, in Redis and for every replica."""
        check_alias_name(alias)
        if version not in self.registry.models.get(name, {}):
            detail = f"Version {version} of {name} is not loaded: an alias points at a loaded one."
            raise AliasRefused(detail, loc=["body", "version"])
        event = RepositoryEvent(
            action="alias", name=name, version=version, alias=alias, origin=self.replica_id
        )
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(redis_keys.ALIASES, field(name, alias), version)
                pipe.publish(redis_keys.REPOSITORY_CHANNEL, event.model_dump_json())
                await pipe.execute()
        except REDIS_FAILURES:
            raise AliasesUnreachable from None
        self._set_here(name, alias, version)

    async def release(self, name: str, version: str, *, last: bool) -> None:
        """Before `version` is deleted: 409 while an alias points at it, unless it is the
        model's `last` version, whose aliases then go with it."""
        try:
            aliases = (await read_aliases(self.redis)).get(name, {})
            pointing = sorted(a for a, v in aliases.items() if v == version)
            if pointing and not last:
                alias = pointing[0]
                raise Conflict(
                    f"Alias {alias} of {name} points at version {version}: point it at another "
                    f"version first (PUT /models/{name}/aliases/{alias})."
                )
            if last and aliases:
                await self.redis.hdel(redis_keys.ALIASES, *(field(name, a) for a in aliases))
        except REDIS_FAILURES:
            raise AliasesUnreachable from None
        for alias in aliases if last else ():
            self._set_here(name, alias, None)

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
