"""Aliases: a model's names for its versions. `production` is the version its unversioned
routes serve (`/models/{name}/predict`, V2 without a version, metadata's `default_version`);
any other (`canary`, `staging`) is called as `/models/{name}@{alias}/predict` or, for stock V2
clients, `/v2/models/{name}/versions/{alias}/infer`. An alias other than `production` takes
callers with models:admin only, unless it was set public.

Redis holds them (the hash `redis_keys.ALIASES` and the set `redis_keys.ALIASES_PUBLIC`), so
every replica reads the same; each replica keeps a copy here, which the repository refreshes
after every repository event and every sync (alias_keeper.py writes them). A model without a
`production` alias (bundles already in the store at start) serves its lowest loaded version: a
new version never takes traffic by itself.
"""

import re
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from model_service import redis_keys
from model_service.errors import InvalidInput
from model_service.repository.traffic import Split
from servir_runtime.problems import Forbidden, NotFound, ServiceError
from shared_schemas.inference import TrafficSplit
from shared_schemas.problems import FieldError

REDIS_FAILURES = (RedisError, OSError, TimeoutError)
ADMIN_SCOPE = "models:admin"

PRODUCTION = "production"
# Every alias name matches this. Versions are digits and model names have no `@`, so neither
# `/models/{name}@{alias}` nor a version segment that is an alias can be read two ways.
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
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
    """422 unless `alias` is a name an alias can have."""
    if not ALIAS_NAME.match(alias):
        detail = f"An alias name matches {ALIAS_NAME.pattern}; {alias[:40]!r} does not."
        raise AliasRefused(detail, loc=["path", "alias"])


def field(name: str, alias: str) -> str:
    """The alias's field in the ALIASES hash."""
    return f"{name}@{alias}"


@dataclass(frozen=True)
class Stored:
    """What Redis holds of every model's routing: aliases, the public ones, traffic splits."""

    table: Table
    public: set[str]
    splits: dict[str, Split]


async def read_aliases(redis: Redis) -> Stored:
    """Every model's aliases, the fields of the public ones and the splits, as Redis holds them."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(redis_keys.ALIASES)
        pipe.smembers(redis_keys.ALIASES_PUBLIC)
        pipe.hgetall(redis_keys.TRAFFIC)
        pointing, public, traffic = await pipe.execute()
    table: Table = {}
    for key, value in pointing.items():
        name, _, alias = redis_keys.text(key).partition("@")
        table.setdefault(name, {})[alias] = redis_keys.text(value)
    splits = {
        redis_keys.text(name): Split.of(TrafficSplit.model_validate_json(value))
        for name, value in traffic.items()
    }
    return Stored(table, {redis_keys.text(member) for member in public}, splits)


class AliasTable:
    """This replica's copy of the aliases (model -> alias -> version) and which are public."""

    def __init__(self) -> None:
        self.table: Table = {}
        self.public: set[str] = set()  # `field`s of the public aliases
        self.splits: dict[str, Split] = {}  # model -> its traffic split, while one is set

    def of(self, name: str) -> dict[str, str]:
        """The model's aliases (a copy)."""
        return dict(self.table.get(name, {}))

    def public_of(self, name: str) -> list[str]:
        """The model's aliases any caller with models:predict may call, sorted."""
        return sorted(a for a in self.table.get(name, {}) if self.is_public(name, a))

    def is_public(self, name: str, alias: str) -> bool:
        """Whether callers without models:admin may call the alias directly."""
        return alias == PRODUCTION or field(name, alias) in self.public

    def production(self, name: str) -> str | None:
        """The version the model's `production` alias points at, if it has one."""
        aliases = self.table.get(name)
        return aliases.get(PRODUCTION) if aliases else None

    def point(self, name: str, alias: str, version: str | None, *, public: bool = False) -> bool:
        """Point `alias` at `version` (None removes it); whether anything changed."""
        aliases = self.table.setdefault(name, {})
        before = (aliases.get(alias), field(name, alias) in self.public)
        if version is None:
            aliases.pop(alias, None)
        else:
            aliases[alias] = version
        (self.public.add if public and version else self.public.discard)(field(name, alias))
        if not aliases:
            self.table.pop(name, None)
        return before != (version, public and version is not None)

    def replace(self, stored: Stored) -> bool:
        """Take Redis's whole table; whether anything changed."""
        specs = {name: split.spec for name, split in self.splits.items()}
        changed = (stored.table, stored.public) != (self.table, self.public) or specs != {
            name: split.spec for name, split in stored.splits.items()
        }
        self.table, self.public, self.splits = stored.table, stored.public, stored.splits
        return changed

    def set_split(self, name: str, split: Split | None) -> bool:
        """Set (None: clear) the model's traffic split; whether anything changed."""
        before = self.splits.get(name)
        if split is None:
            self.splits.pop(name, None)
        else:
            self.splits[name] = split
        return (before and before.spec) != (split and split.spec)

    def resolve(self, name: str, alias: str, scopes: str | None) -> str:
        """The version `alias` of `name` points at, for a caller with `scopes` (the gateway's
        `X-Servir-Scopes`; None: an internal caller). 404 without such an alias, 403 when it is
        not public and the caller lacks models:admin."""
        version = self.table.get(name, {}).get(alias)
        if version is None:
            raise NotFound(f"Model {name} has no alias {alias}.")
        admin = scopes is None or ADMIN_SCOPE in scopes.split()
        if not admin and not self.is_public(name, alias):
            raise Forbidden(
                f"Alias {alias} of {name} is not public: calling it needs the {ADMIN_SCOPE} "
                "scope (an admin can make it public)."
            )
        return version
