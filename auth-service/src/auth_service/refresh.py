"""Opaque refresh tokens: stored as SHA-256, chained in families, rotated on every use.

Using a token that was already rotated revokes its whole family (RFC 9700 section 4.14.2):
either the client or an attacker holds a stolen copy, and we cannot tell which.
"""

import logging
import secrets
import time

from redis.asyncio import Redis

from auth_service import redis_keys
from auth_service.errors import OAuthFailure
from auth_service.tokens import new_secret, sha256_hex
from shared_schemas.auth import RefreshFamily, RefreshTokenRecord

logger = logging.getLogger("servir.refresh")
INVALID = "The refresh token is invalid, expired or revoked."


async def issue_refresh_token(
    redis: "Redis", *, family_id: str, username: str, scope: str, ttl: int
) -> str:
    """Store and return a new refresh token of `family_id`."""
    token = new_secret()
    record = RefreshTokenRecord(
        family=family_id, username=username, scope=scope, issued_at=time.time()
    )
    await redis.set(redis_keys.refresh_token(sha256_hex(token)), record.model_dump_json(), ex=ttl)
    return token


async def start_family(redis: "Redis", *, username: str, scope: str, ttl: int) -> str:
    """A new family (one login) and its first refresh token."""
    family_id = secrets.token_urlsafe(16)
    family = RefreshFamily(username=username, scope=scope, created_at=time.time())
    await redis.set(redis_keys.family(family_id), family.model_dump_json(), ex=ttl)
    return await issue_refresh_token(
        redis, family_id=family_id, username=username, scope=scope, ttl=ttl
    )


async def find_refresh_token(redis: "Redis", token: str) -> RefreshTokenRecord | None:
    """The record of a refresh token, if it is one of ours and still stored."""
    raw = await redis.get(redis_keys.refresh_token(sha256_hex(token)))
    return RefreshTokenRecord.model_validate_json(raw) if raw is not None else None


async def revoke_family(redis: "Redis", family_id: str, *, ttl: int) -> None:
    """Void every refresh token of a family."""
    await redis.set(redis_keys.family_revoked(family_id), "1", ex=ttl)


async def consume_refresh_token(
    redis: "Redis", token: str, *, ttl: int
) -> tuple[RefreshTokenRecord, RefreshFamily]:
    """Mark `token` used (exactly once, atomically) and return it with its family.

    Of two concurrent uses only one wins `SET NX`; the other is a reuse and revokes the family.
    """
    token_hash = sha256_hex(token)
    record = await find_refresh_token(redis, token)
    if record is None or await redis.exists(redis_keys.family_revoked(record.family)):
        raise OAuthFailure("invalid_grant", INVALID)
    first_use = await redis.set(redis_keys.refresh_used(token_hash), "1", nx=True, ex=ttl)
    if not first_use:
        await revoke_family(redis, record.family, ttl=ttl)
        logger.warning("refresh token reused: family revoked", extra={"user": record.username})
        raise OAuthFailure("invalid_grant", INVALID)
    raw_family = await redis.get(redis_keys.family(record.family))
    if raw_family is None:
        raise OAuthFailure("invalid_grant", INVALID)
    return record, RefreshFamily.model_validate_json(raw_family)
