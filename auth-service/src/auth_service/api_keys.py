"""API keys: random with a visible prefix, stored as SHA-256, shown once."""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from auth_service import redis_keys
from auth_service.errors import Conflict, NotFound
from auth_service.revocations import revoke_api_key
from auth_service.tokens import sha256_hex
from shared_schemas.apikey_format import API_KEY_PREFIX, API_KEY_SECRET_BYTES
from shared_schemas.auth import ApiKey, ApiKeyCreated, ApiKeyRecord

# The shape is a contract: the gateway refuses any other before asking about a key.
KEY_PREFIX = API_KEY_PREFIX
VISIBLE_PREFIX_LENGTH = 12
# Writing last_used_at on every introspection would make every cache miss a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def looks_like_api_key(token: str) -> bool:
    """Keys carry a fixed prefix, so revocation and introspection can tell them apart."""
    return token.startswith(KEY_PREFIX)


def listed(record: ApiKeyRecord) -> ApiKey:
    """A key as listings show it: everything but the secret."""
    return ApiKey.model_validate(record.model_dump(exclude={"owner"}), strict=False)


async def create_api_key(
    redis: "Redis", *, owner: str, name: str, scopes: Sequence[str], days: int | None, limit: int
) -> ApiKeyCreated:
    """Store a new key for `owner` and return it, secret included, this once."""
    if await redis.scard(redis_keys.user_api_keys(owner)) >= limit:
        raise Conflict(f"A user may hold at most {limit} API keys; delete one first.")
    key = KEY_PREFIX + secrets.token_urlsafe(API_KEY_SECRET_BYTES)
    now = datetime.now(UTC)
    record = ApiKeyRecord.model_validate(
        {
            "id": secrets.token_hex(8),
            "name": name,
            "owner": owner,
            "prefix": key[:VISIBLE_PREFIX_LENGTH],
            "scopes": list(scopes),
            "created_at": now,
            "expires_at": now + timedelta(days=days) if days is not None else None,
        },
        strict=False,
    )
    key_hash = sha256_hex(key)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(redis_keys.api_key(key_hash), record.model_dump_json())
        pipe.set(redis_keys.api_key_id(record.id), key_hash)
        pipe.sadd(redis_keys.user_api_keys(owner), record.id)
        await pipe.execute()
    return ApiKeyCreated.model_validate(
        {**record.model_dump(exclude={"owner", "last_used_at"}), "key": key}, strict=False
    )


async def find_by_key(redis: "Redis", key: str) -> ApiKeyRecord | None:
    """The record of a presented key, if it exists."""
    raw = await redis.get(redis_keys.api_key(sha256_hex(key)))
    return ApiKeyRecord.model_validate_json(raw) if raw is not None else None


async def find_by_id(redis: "Redis", key_id: str) -> tuple[str, ApiKeyRecord] | None:
    """The hash and record of a key id, if it exists."""
    key_hash = await redis.get(redis_keys.api_key_id(key_id))
    if key_hash is None:
        return None
    raw = await redis.get(redis_keys.api_key(redis_keys.text(key_hash)))
    if raw is None:
        return None
    return redis_keys.text(key_hash), ApiKeyRecord.model_validate_json(raw)


async def list_api_keys(redis: "Redis", *, owner: str) -> list[ApiKey]:
    """The owner's keys, oldest first."""
    ids = await redis.smembers(redis_keys.user_api_keys(owner))
    found = [await find_by_id(redis, redis_keys.text(key_id)) for key_id in ids]
    records = sorted((record for _, record in filter(None, found)), key=lambda r: r.created_at)
    return [listed(record) for record in records]


async def delete_api_key(redis: "Redis", *, owner: str, key_id: str) -> None:
    """Delete one of the owner's keys; another user's id is as unknown as a missing one."""
    found = await find_by_id(redis, key_id)
    if found is None or found[1].owner != owner:
        raise NotFound(f"No API key with id {key_id}.")
    await _delete(redis, found[0], found[1])


async def delete_all_api_keys(redis: "Redis", *, owner: str) -> None:
    """Delete every key of a user (the user is being deleted)."""
    for key_id in await redis.smembers(redis_keys.user_api_keys(owner)):
        found = await find_by_id(redis, redis_keys.text(key_id))
        if found is not None:
            await _delete(redis, *found)
    await redis.delete(redis_keys.user_api_keys(owner))


async def _delete(redis: "Redis", key_hash: str, record: ApiKeyRecord) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(redis_keys.api_key(key_hash), redis_keys.api_key_id(record.id))
        pipe.srem(redis_keys.user_api_keys(record.owner), record.id)
        await pipe.execute()
    await revoke_api_key(redis, key_id=record.id)


async def touch(redis: "Redis", key: str, record: ApiKeyRecord) -> None:
    """Record that the key was used, at most once a minute."""
    now = datetime.now(UTC)
    if record.last_used_at is not None and now - record.last_used_at < LAST_USED_RESOLUTION:
        return
    updated = record.model_copy(update={"last_used_at": now})
    await redis.set(redis_keys.api_key(sha256_hex(key)), updated.model_dump_json(), xx=True)
