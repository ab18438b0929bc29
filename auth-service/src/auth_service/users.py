"""Users in Redis, and the rule that some enabled user always holds `users:admin`."""

from collections.abc import Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import WatchError

from auth_service import redis_keys, revocations
from auth_service.errors import Conflict, NotFound
from shared_schemas.auth import User, UserRecord

ADMIN_SCOPE = "users:admin"


def is_active_admin(record: UserRecord) -> bool:
    """An enabled user holding `users:admin`."""
    return ADMIN_SCOPE in record.scopes and not record.disabled


def public_user(record: UserRecord) -> User:
    """The user as the API shows it (no password hash)."""
    return User(
        username=record.username,
        scopes=record.scopes,
        created_at=record.created_at,
        disabled=record.disabled,
    )


def new_user_record(*, username: str, password_hash: str, scopes: Sequence[str]) -> UserRecord:
    """A fresh record, created now."""
    return UserRecord.model_validate(
        {
            "username": username,
            "password_hash": password_hash,
            "scopes": list(scopes),
            "created_at": datetime.now(UTC).isoformat(),
        },
        strict=False,
    )


def credentials_not_before(record: UserRecord) -> float:
    """Credentials issued before this instant (epoch seconds) are void: the last password
    change, disabling or scope loss, and the user's creation (a user created anew under a
    deleted user's name is a new identity; the old one's credentials stay dead)."""
    return max(record.tokens_not_before, record.created_at.timestamp())


async def get_user(redis: "Redis", username: str) -> UserRecord | None:
    """The stored user, or None."""
    raw = await redis.get(redis_keys.user(username))
    return UserRecord.model_validate_json(raw) if raw is not None else None


async def require_user(redis: "Redis", username: str) -> UserRecord:
    """The stored user, or 404."""
    record = await get_user(redis, username)
    if record is None:
        raise NotFound(f"No user named {username}.")
    return record


async def create_user(redis: "Redis", record: UserRecord) -> None:
    """Store a new user; 409 when the name is taken."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(redis_keys.user(record.username), record.model_dump_json(), nx=True)
        pipe.zadd(redis_keys.USERS_INDEX, {record.username: 0})
        if is_active_admin(record):
            pipe.sadd(redis_keys.ACTIVE_ADMINS, record.username)
        created, *_ = await pipe.execute()
    if not created:
        raise Conflict(f"The username {record.username} is taken.")
    # A name used before: gateways refuse whatever the old identity still holds (e.g. a token
    # from a login that raced its deletion), checked locally against this cut-off.
    if await revocations.has_cut_off(redis, username=record.username):
        await revocations.cut_off_user(
            redis, username=record.username, at=record.created_at.timestamp()
        )


async def list_users(redis: "Redis", *, offset: int, limit: int) -> tuple[list[UserRecord], int]:
    """One page of users in username order, and how many there are."""
    names = await redis.zrange(redis_keys.USERS_INDEX, offset, offset + limit - 1)
    total = await redis.zcard(redis_keys.USERS_INDEX)
    if not names:
        return [], total
    keys = [
        redis_keys.user(redis_keys.text(name)) for name in names if isinstance(name, bytes | str)
    ]
    raws = await redis.mget(keys)
    return [UserRecord.model_validate_json(raw) for raw in raws if raw is not None], total


async def write_user(redis: "Redis", username: str, record: UserRecord | None) -> None:
    """Replace (or, with None, delete) a user; 409 if that would leave no enabled admin.

    Optimistic transaction: WATCH the admin set, so two admins demoting each other at once
    cannot both succeed.
    """
    key = redis_keys.user(username)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(redis_keys.ACTIVE_ADMINS, key)
                admins = {
                    redis_keys.text(name) for name in await pipe.smembers(redis_keys.ACTIVE_ADMINS)
                }
                stays_admin = record is not None and is_active_admin(record)
                if admins == {username} and not stays_admin:
                    raise Conflict(f"{username} is the last enabled holder of users:admin.")
                pipe.multi()  # type: ignore[no-untyped-call]
                _queue_write(pipe, username, record)
                await pipe.execute()
                return
            except WatchError:
                continue


def _queue_write(pipe: "Redis", username: str, record: UserRecord | None) -> None:
    key = redis_keys.user(username)
    if record is None:
        pipe.delete(key)
        pipe.zrem(redis_keys.USERS_INDEX, username)
        pipe.srem(redis_keys.ACTIVE_ADMINS, username)
        return
    pipe.set(key, record.model_dump_json())
    pipe.zadd(redis_keys.USERS_INDEX, {username: 0})
    if is_active_admin(record):
        pipe.sadd(redis_keys.ACTIVE_ADMINS, username)
    else:
        pipe.srem(redis_keys.ACTIVE_ADMINS, username)
