"""Verifying access tokens locally: EdDSA only, a known kid, and the claims Servir issues."""

import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from gateway.auth.jwks import SigningKeys
from gateway.errors import InvalidToken, UpstreamUnavailable
from shared_schemas.auth import ACCESS_TOKEN_TYPE, SIGNING_ALGORITHM, AccessTokenClaims

REQUIRED_CLAIMS = ["iss", "aud", "sub", "scope", "jti", "iat", "nbf", "exp", "typ"]
# Far above any token Servir issues; refuses absurd headers before any parsing.
MAX_TOKEN_LENGTH = 8192
INVALID = "The access token is invalid."


def signing_kid(token: str) -> str:
    """The token's `kid`, once its header names EdDSA; anything else is refused unread."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(INVALID)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken(INVALID) from None
    kid = header.get("kid")
    if header.get("alg") != SIGNING_ALGORITHM or not isinstance(kid, str) or not kid:
        raise InvalidToken(INVALID)
    return kid


def decode_access_token(
    token: str, *, key: Ed25519PublicKey, issuer: str, audience: str, leeway: float
) -> AccessTokenClaims:
    """The verified claims of an access token, or `InvalidToken`."""
    try:
        claims = jwt.decode(
            token,
            key,
            # Pinned: the header's alg is never trusted to choose how the key is read.
            algorithms=[SIGNING_ALGORITHM],
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired.") from None
    except jwt.PyJWTError:
        raise InvalidToken(INVALID) from None
    # A refresh token or any other signed document must not pass for an access token.
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken(INVALID)
    try:
        return AccessTokenClaims.model_validate(claims)
    except ValidationError:
        raise InvalidToken(INVALID) from None


class TokenVerifier:
    """Verifies bearer tokens against the cached signing keys.

    A client sends the same token for minutes; checking its signature once, not on every
    request, saves the ~200 µs an Ed25519 verification and PyJWT's parsing cost. A remembered
    token is still checked for expiry (and by the caller for revocation) each time, and all
    are forgotten when the signing keys change.
    """

    def __init__(
        self,
        *,
        keys: SigningKeys,
        issuer: str,
        audience: str,
        leeway: float,
        retry_after: int,
        max_remembered: int,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.retry_after = retry_after
        self.max_remembered = max_remembered
        self._verified: dict[str, AccessTokenClaims] = {}
        self._generation = keys.generation

    async def verify(self, token: str) -> AccessTokenClaims:
        """The token's claims; 401 if it is not a valid access token, 503 if no keys are known."""
        if self._generation != self.keys.generation:
            self._verified.clear()
            self._generation = self.keys.generation
        claims = self._verified.get(token)
        if claims is None:
            claims = await self._verify_signed(token)
            self._remember(token, claims)
        elif claims.exp <= time.time() - self.leeway:  # as PyJWT decides expiry
            del self._verified[token]
            raise InvalidToken("The access token has expired.")
        return claims

    def remembered(self, token: str) -> bool:
        """Whether `token` was verified here and has not expired: checking it again costs a
        dictionary lookup (revocation is still the caller's to check)."""
        claims = self._verified.get(token)
        current = self._generation == self.keys.generation
        return claims is not None and current and claims.exp > time.time() - self.leeway

    def _remember(self, token: str, claims: AccessTokenClaims) -> None:
        if self._generation != self.keys.generation:
            return  # verified with keys that have just changed: check it again next time
        if len(self._verified) >= self.max_remembered:
            del self._verified[next(iter(self._verified))]  # the oldest first
        self._verified[token] = claims

    async def _verify_signed(self, token: str) -> AccessTokenClaims:
        key = await self.keys.key_for(signing_kid(token))
        if key is None:
            if not self.keys.loaded:
                # Not the caller's fault: the keys could never be fetched.
                detail = "The auth-service's signing keys are unavailable."
                raise UpstreamUnavailable(detail, retry_after=self.retry_after)
            raise InvalidToken("The access token is signed with an unknown key.")
        return decode_access_token(
            token, key=key, issuer=self.issuer, audience=self.audience, leeway=self.leeway
        )
