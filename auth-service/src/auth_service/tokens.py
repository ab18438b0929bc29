"""Issuing access tokens (JWT) and opaque refresh tokens."""

import hashlib
import math
import secrets
import time

from auth_service.config import Settings
from auth_service.signing import KeyRing
from shared_schemas.auth import AccessTokenClaims

REFRESH_TOKEN_BYTES = 32


def sha256_hex(secret: str) -> str:
    """How secrets (refresh tokens, API keys) are stored: their SHA-256, never themselves."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    """A random, URL-safe secret of 256 bits."""
    return prefix + secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def issue_access_token(
    *, keys: KeyRing, settings: Settings, username: str, scope: str
) -> tuple[str, AccessTokenClaims]:
    """A signed access token for `username` with `scope`, and its claims."""
    now = round(time.time(), 6)
    claims = AccessTokenClaims(
        iss=settings.issuer,
        aud=settings.audience,
        sub=username,
        scope=scope,
        jti=secrets.token_urlsafe(16),
        iat=now,
        nbf=now,
        exp=math.ceil(now) + settings.access_token_ttl_seconds,
    )
    return keys.sign(claims.model_dump()), claims
