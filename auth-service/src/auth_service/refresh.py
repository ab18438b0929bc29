"""Opaque refresh tokens: stored as SHA-256, chained in families, rotated on every use.

Using a token that was already rotated revokes its whole family (RFC 9700 section 4.14.2):
either the client or an attacker holds a stolen copy, and we cannot tell which.
"""

import logging
import math
import secrets
import time
from typing import cast

from redis.asyncio import Redis

from auth_service import redis_keys, revocations
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


async def start_family(redis: "Redis", *, username: str, scope: str, ttl: int) -> tuple[str, str]:
    """A new family (one login): its id and its first refresh token."""
    family_id = secrets.token_urlsafe(16)
    family = RefreshFamily(username=username, scope=scope, created_at=time.time())
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(redis_keys.family(family_id), family.model_dump_json(), ex=ttl)
        pipe.sadd(redis_keys.user_families(username), family_id)
        pipe.expire(redis_keys.user_families(username), ttl)
        await pipe.execute()
    token = await issue_refresh_token(
        redis, family_id=family_id, username=username, scope=scope, ttl=ttl
    )
    return family_id, token


async def bind_access_token(redis: "Redis", *, family_id: str, jti: str, expires_at: float) -> None:
    """Remember an access token issued with the family, so that revoking the family revokes it.

    Written before the family's revocation is read, while `revoke_family` writes the revocation
    before it reads the tokens: of a refresh racing a revocation, one sees the other. A family
    revoked meanwhile raises `invalid_grant` (the token is revoked too).
    """
    key = redis_keys.family_access_tokens(family_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {jti: expires_at})
        pipe.zremrangebyscore(key, "-inf", time.time())
        # Tokens issued later expire later: the set lives as long as its newest token.
        pipe.expireat(key, math.ceil(expires_at) + 1)
        pipe.exists(redis_keys.family_revoked(family_id))
        *_, revoked = await pipe.execute()
    if revoked:
        await revocations.revoke_access_token(redis, jti=jti, expires_at=expires_at)
        raise OAuthFailure("invalid_grant", INVALID)


async def find_refresh_token(redis: "Redis", token: str) -> RefreshTokenRecord | None:
    """The record of a refresh token, if it is one of ours and still stored."""
    raw = await redis.get(redis_keys.refresh_token(sha256_hex(token)))
    return RefreshTokenRecord.model_validate_json(raw) if raw is not None else None


async def revoke_family(redis: "Redis", family_id: str, *, ttl: int) -> None:
    """Void every refresh token of a family and the access tokens issued with it (RFC 7009
    section 2.1: revoking a refresh token revokes the access tokens of the same grant)."""
    await redis.set(redis_keys.family_revoked(family_id), "1", ex=ttl)
    live = await redis.zrange(
        redis_keys.family_access_tokens(family_id),
        time.time(),
        "+inf",
        byscore=True,
        withscores=True,
    )
    # The shared client returns bytes; redis-py types every reply loosely.
    pairs = cast(list[tuple[bytes, float]], live)
    await revocations.revoke_access_tokens(
        redis, {redis_keys.text(jti): float(exp) for jti, exp in pairs}
    )


async def revoke_user_families(redis: "Redis", username: str, *, ttl: int) -> None:
    """Void every refresh token of a user (being deleted). Their access tokens are left to the
    user's cut-off, which voids them all with one event."""
    key = redis_keys.user_families(username)
    for family_id in await redis.smembers(key):
        await redis.set(redis_keys.family_revoked(redis_keys.text(family_id)), "1", ex=ttl)
    await redis.delete(key)


async def family_revoked(redis: "Redis", family_id: str) -> bool:
    """Whether the family was revoked."""
    return bool(await redis.exists(redis_keys.family_revoked(family_id)))


async def consume_refresh_token(
    redis: "Redis", token: str, *, ttl: int
) -> tuple[RefreshTokenRecord, RefreshFamily]:
    """Mark `token` used (exactly once, atomically) and return it with its family.

    Of two concurrent uses only one wins `SET NX`; the other is a reuse and revokes the family.
    """
    token_hash = sha256_hex(token)
    record = await find_refresh_token(redis, token)
    if record is None or await family_revoked(redis, record.family):
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
