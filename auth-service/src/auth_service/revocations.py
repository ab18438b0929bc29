"""Writing the revocation feed every gateway mirrors (shared_schemas.revocation)."""

import logging
import time
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared_schemas import revocation
from shared_schemas.revocation import RevocationEvent, RevocationKind

logger = logging.getLogger("servir.revocations")


async def publish(
    redis: "Redis", *, kind: RevocationKind, subject: str, at: float, until: float | None = None
) -> None:
    """Tell every gateway now; the state keys (written by the callers) cover gateways that
    reconnect later."""
    event = RevocationEvent(kind=kind, subject=subject, at=at, until=until)
    await redis.publish(revocation.CHANNEL, event.model_dump_json())


async def revoke_access_token(redis: "Redis", *, jti: str, expires_at: float) -> None:
    """Refuse one access token from now until it expires anyway."""
    await revoke_access_tokens(redis, {jti: expires_at})


async def revoke_access_tokens(redis: "Redis", tokens: Mapping[str, float]) -> None:
    """Refuse access tokens (jti -> exp) from now until they expire anyway."""
    if not tokens:
        return
    await redis.zadd(revocation.REVOKED_TOKENS_KEY, dict(tokens))
    await redis.zremrangebyscore(revocation.REVOKED_TOKENS_KEY, "-inf", time.time() - 60)
    for jti, expires_at in tokens.items():
        await publish(redis, kind="token", subject=jti, at=time.time(), until=expires_at)


async def has_cut_off(redis: "Redis", *, username: str) -> bool:
    """Whether `username` ever had its tokens cut off (e.g. a user of that name was deleted)."""
    return bool(await redis.hexists(revocation.USER_CUTOFFS_KEY, username))


async def cut_off_user(redis: "Redis", *, username: str, at: float) -> None:
    """Refuse every token of `username` issued before `at`."""
    await redis.hset(revocation.USER_CUTOFFS_KEY, username, repr(at))
    await publish(redis, kind="user", subject=username, at=at)


async def revoke_api_key(redis: "Redis", *, key_id: str) -> None:
    """Refuse one API key id from now on."""
    now = time.time()
    await redis.zadd(revocation.REVOKED_API_KEYS_KEY, {key_id: now})
    await publish(redis, kind="api_key", subject=key_id, at=now)


async def announce_signing_keys(redis: "Redis") -> None:
    """Tell gateways to refetch the JWKS (a key was added or retired); best effort at start."""
    try:
        await publish(redis, kind="signing_keys", subject="jwks", at=time.time())
    except RedisError as exc:
        logger.warning("could not announce signing keys", extra={"error": type(exc).__name__})
