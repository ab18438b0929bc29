"""RFC 7662 introspection (for the gateway) and RFC 7009 revocation of any of our tokens."""

import time
from datetime import UTC, datetime

import jwt
from redis.asyncio import Redis

from auth_service import api_keys, refresh
from auth_service.config import Settings
from auth_service.revocations import revoke_access_token
from auth_service.signing import KeyRing
from auth_service.users import credentials_not_before, get_user
from shared_schemas import revocation
from shared_schemas.auth import ALL_SCOPES, Introspection

INACTIVE = Introspection(active=False)


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


async def introspect(
    redis: "Redis", *, token: str, keys: KeyRing, settings: Settings
) -> Introspection:
    """What `token` is and whether it is active; `{"active": false}` for anything else."""
    if api_keys.looks_like_api_key(token):
        return await _introspect_api_key(redis, token)
    if _looks_like_jwt(token):
        return await _introspect_access_token(redis, token, keys, settings)
    record = await refresh.find_refresh_token(redis, token)
    if record is None or await refresh.family_revoked(redis, record.family):
        return INACTIVE
    user = await get_user(redis, record.username)
    if user is None or user.disabled or record.issued_at < credentials_not_before(user):
        return INACTIVE
    return Introspection(
        active=True,
        sub=record.username,
        scope=record.scope,
        token_type="refresh_token",
        iat=record.issued_at,
    )


async def _introspect_api_key(redis: "Redis", key: str) -> Introspection:
    record = await api_keys.find_by_key(redis, key)
    if record is None:
        return INACTIVE
    now = datetime.now(UTC)
    owner = await get_user(redis, record.owner)
    if (
        owner is None
        or owner.disabled
        or record.created_at < owner.created_at  # a key of an earlier user of that name
        or (record.expires_at is not None and record.expires_at <= now)
    ):
        return INACTIVE
    await api_keys.touch(redis, key, record)
    # A key never outranks its owner: scopes the owner lost since are dropped.
    scopes = [scope for scope in ALL_SCOPES if scope in record.scopes and scope in owner.scopes]
    return Introspection(
        active=True,
        sub=record.owner,
        scope=" ".join(scopes),
        token_type="api_key",
        jti=record.id,
        iat=record.created_at.timestamp(),
        exp=record.expires_at.timestamp() if record.expires_at else None,
    )


async def _introspect_access_token(
    redis: "Redis", token: str, keys: KeyRing, settings: Settings
) -> Introspection:
    try:
        claims = keys.decode(
            token, issuer=settings.issuer, audience=settings.audience, verify_exp=True
        )
    except jwt.PyJWTError:
        return INACTIVE
    if claims.get("typ") != "access" or await redis.zscore(
        revocation.REVOKED_TOKENS_KEY, claims["jti"]
    ):
        return INACTIVE
    user = await get_user(redis, claims["sub"])
    if user is None or user.disabled or float(claims.get("iat", 0)) < credentials_not_before(user):
        return INACTIVE
    return Introspection(
        active=True,
        sub=claims["sub"],
        scope=claims.get("scope", ""),
        token_type="access_token",
        jti=claims["jti"],
        iat=float(claims["iat"]),
        exp=float(claims["exp"]),
    )


async def revoke(redis: "Redis", *, token: str, keys: KeyRing, settings: Settings) -> None:
    """Revoke whatever `token` is; unknown or invalid tokens are ignored (RFC 7009 section 2.2)."""
    if api_keys.looks_like_api_key(token):
        record = await api_keys.find_by_key(redis, token)
        if record is not None:
            await api_keys.delete_api_key(redis, owner=record.owner, key_id=record.id)
        return
    if _looks_like_jwt(token):
        try:
            claims = keys.decode(
                token, issuer=settings.issuer, audience=settings.audience, verify_exp=False
            )
        except jwt.PyJWTError:
            return
        if float(claims["exp"]) > time.time() - 60:
            await revoke_access_token(
                redis, jti=str(claims["jti"]), expires_at=float(claims["exp"])
            )
        return
    found = await refresh.find_refresh_token(redis, token)
    if found is not None:
        await refresh.revoke_family(redis, found.family, ttl=settings.refresh_token_ttl_seconds)
