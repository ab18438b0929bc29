"""The OAuth2 token endpoint's grants: `password` and `refresh_token` (RFC 6749 4.3 and 6)."""

from collections.abc import Sequence

from redis.asyncio import Redis

from auth_service import refresh, throttle
from auth_service.config import Settings
from auth_service.errors import OAuthFailure, TooManyAttempts
from auth_service.passwords import Passwords
from auth_service.signing import KeyRing
from auth_service.tokens import issue_access_token
from auth_service.users import credentials_not_before, get_user, write_user
from shared_schemas.auth import ALL_SCOPES, TokenResponse, UserRecord

BAD_CREDENTIALS = "The username or password is incorrect."


def resolve_scope(requested: str | None, allowed: Sequence[str]) -> str:
    """The granted scope: all of `allowed` when none is asked; `invalid_scope` beyond it."""
    if requested is None or not requested.strip():
        wanted = set(allowed)
    else:
        wanted = set(requested.split())
        extra = wanted - set(allowed)
        if extra:
            raise OAuthFailure("invalid_scope", f"Scope not granted: {' '.join(sorted(extra))}.")
    return " ".join(scope for scope in ALL_SCOPES if scope in wanted)


async def _tokens(
    redis: "Redis",
    *,
    keys: KeyRing,
    settings: Settings,
    username: str,
    scope: str,
    family: str | None,
) -> TokenResponse:
    ttl = settings.refresh_token_ttl_seconds
    access, claims = issue_access_token(
        keys=keys, settings=settings, username=username, scope=scope
    )
    if family is None:
        family, refresh_token = await refresh.start_family(
            redis, username=username, scope=scope, ttl=ttl
        )
    else:
        refresh_token = await refresh.issue_refresh_token(
            redis, family_id=family, username=username, scope=scope, ttl=ttl
        )
    await refresh.bind_access_token(
        redis, family_id=family, jti=claims.jti, expires_at=float(claims.exp)
    )
    return TokenResponse(
        access_token=access,
        expires_in=settings.access_token_ttl_seconds,
        refresh_token=refresh_token,
        scope=scope,
    )


async def password_grant(
    redis: "Redis",
    *,
    keys: KeyRing,
    settings: Settings,
    passwords: Passwords,
    username: str,
    password: str,
    scope: str | None,
    client_ip: str,
) -> TokenResponse:
    """Log in; an unknown user, a wrong password and a disabled user answer alike."""
    try:
        attempt = await throttle.reserve_attempt(
            redis, settings=settings, username=username, ip=client_ip
        )
    except TooManyAttempts as exc:
        raise OAuthFailure(
            "invalid_request", exc.detail, status=429, retry_after=exc.retry_after
        ) from None
    user = await get_user(redis, username)
    matches = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not matches or user.disabled:
        raise OAuthFailure("invalid_grant", BAD_CREDENTIALS)
    await throttle.succeeded(redis, attempt)
    granted = resolve_scope(scope, list(user.scopes))
    if passwords.needs_rehash(user.password_hash):
        await _rehash(redis, passwords, user, password)
    return await _tokens(
        redis, keys=keys, settings=settings, username=username, scope=granted, family=None
    )


async def _rehash(redis: "Redis", passwords: Passwords, user: UserRecord, password: str) -> None:
    updated = user.model_copy(update={"password_hash": await passwords.hash(password)})
    await write_user(redis, user.username, updated)


async def refresh_grant(
    redis: "Redis", *, keys: KeyRing, settings: Settings, token: str, scope: str | None
) -> TokenResponse:
    """Rotate a refresh token: the old one is spent, a new one of the same family is issued."""
    ttl = settings.refresh_token_ttl_seconds
    record, family = await refresh.consume_refresh_token(redis, token, ttl=ttl)
    user = await get_user(redis, record.username)
    if user is None or user.disabled or family.created_at < credentials_not_before(user):
        await refresh.revoke_family(redis, record.family, ttl=ttl)
        raise OAuthFailure("invalid_grant", refresh.INVALID)
    allowed = [s for s in record.scope.split() if s in user.scopes]
    granted = resolve_scope(scope, allowed)
    return await _tokens(
        redis,
        keys=keys,
        settings=settings,
        username=user.username,
        scope=granted,
        family=record.family,
    )
