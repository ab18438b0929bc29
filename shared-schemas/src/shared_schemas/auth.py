"""Identity contracts: tokens, claims, users, API keys, introspection, JWKS."""

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from shared_schemas.base import WHOLE_NUMBER, Contract

Scope = Literal["models:read", "models:predict", "models:admin", "users:admin"]
ALL_SCOPES: tuple[Scope, ...] = ("models:read", "models:predict", "models:admin", "users:admin")
DEFAULT_USER_SCOPES: tuple[Scope, ...] = ("models:read", "models:predict")

Username = Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.@-]{2,63}$")]
Password = Annotated[str, Field(min_length=8, max_length=256)]


def canonical_scopes(scopes: Iterable[str]) -> list[Scope]:
    """Scopes as a set: each once, in `ALL_SCOPES` order (so answers do not depend on how
    a request ordered them)."""
    held = set(scopes)
    return [scope for scope in ALL_SCOPES if scope in held]


def _refuse_repeats(scopes: list[Scope]) -> list[Scope]:
    if len(set(scopes)) != len(scopes):
        msg = "scopes are a set: a scope must not repeat"
        raise ValueError(msg)
    return canonical_scopes(scopes)


# Requested scopes: a repeat is refused (422), as JSON Schema's uniqueItems says.
ScopeList = Annotated[
    list[Scope],
    Field(max_length=len(ALL_SCOPES), json_schema_extra={"uniqueItems": True}),
    AfterValidator(_refuse_repeats),
]
# Stored and shown scopes: normalised, so a record written before repeats were refused still
# reads back as a set.
ScopeSet = Annotated[list[Scope], AfterValidator(canonical_scopes)]


class TokenResponse(Contract):
    """RFC 6749 section 5.1 successful token response."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    scope: str


ACCESS_TOKEN_TYPE = "access"
JWT_HEADER_TYPE = "at+jwt"  # RFC 9068
SIGNING_ALGORITHM: Literal["EdDSA"] = "EdDSA"


class AccessTokenClaims(Contract):
    """The claims of a Servir access token (a JWT signed with EdDSA, `kid` in its header).

    `iat` and `nbf` carry fractions of a second (RFC 7519 NumericDate allows them), so that
    "tokens issued before this instant" is exact when a user's password changes.
    """

    iss: str
    aud: str
    sub: str
    scope: str
    jti: str
    iat: float
    nbf: float
    exp: int
    typ: Literal["access"] = "access"


class UserCreate(Contract):
    """`POST /auth/users` body."""

    username: Username
    password: Password
    scopes: ScopeList | None = None


class UserPatch(Contract):
    """`PATCH /auth/users/{username}` body: only these fields may change."""

    scopes: ScopeList | None = None
    disabled: bool | None = None
    password: Password | None = None


class User(Contract):
    """A user as the admin API shows it (never the password hash)."""

    username: str
    scopes: ScopeSet
    created_at: datetime
    disabled: bool = False


class UserPage(Contract):
    """One page of `GET /auth/users`."""

    items: list[User]
    total: int
    limit: int
    offset: int


class Me(Contract):
    """`GET /auth/me`."""

    username: str
    scopes: ScopeSet
    created_at: datetime


class PasswordChange(Contract):
    """`POST /auth/me/password` body."""

    current_password: Annotated[str, Field(max_length=256)]
    new_password: Password


class ApiKeyCreate(Contract):
    """`POST /auth/api-keys` body."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    scopes: ScopeList | None = None
    expires_in_days: Annotated[int, Field(ge=1, le=3650), WHOLE_NUMBER] | None = None


class ApiKey(Contract):
    """An API key as listed: everything but the secret."""

    id: str
    name: str
    prefix: str
    scopes: ScopeSet
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyCreated(Contract):
    """`POST /auth/api-keys` answer: the only time the secret `key` is shown."""

    id: str
    name: str
    key: str
    prefix: str
    scopes: ScopeSet
    created_at: datetime
    expires_at: datetime | None = None


class Introspection(Contract):
    """RFC 7662 introspection answer; `{"active": false}` for anything unknown.

    For an API key: `sub` is its owner, `jti` the key id, `token_type` `api_key`.
    """

    active: bool
    sub: str | None = None
    scope: str | None = None
    token_type: Literal["access_token", "refresh_token", "api_key"] | None = None
    exp: float | None = None
    iat: float | None = None
    jti: str | None = None


class UserRecord(Contract):
    """A user as the auth-service stores it in Redis."""

    username: str
    password_hash: str
    scopes: ScopeSet
    disabled: bool = False
    created_at: datetime
    # Tokens issued before this instant (epoch seconds) are void: set on password change/disable.
    tokens_not_before: float = 0.0


class RefreshTokenRecord(Contract):
    """A refresh token as stored (under the SHA-256 of the token, never the token)."""

    family: str
    username: str
    scope: str
    issued_at: float
    used: bool = False


class RefreshFamily(Contract):
    """A chain of refresh tokens from one login; reuse of a rotated token revokes it whole."""

    username: str
    scope: str
    created_at: float
    revoked: bool = False


class ApiKeyRecord(Contract):
    """An API key as stored (under the SHA-256 of the key, never the key)."""

    id: str
    name: str
    owner: str
    prefix: str
    scopes: ScopeSet
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class Jwk(Contract):
    """One public signing key (RFC 7517); `kid` is always present."""

    kty: Literal["OKP", "RSA"]
    kid: str
    alg: Literal["EdDSA", "RS256"]
    use: Literal["sig"] = "sig"
    crv: str | None = None
    x: str | None = None
    n: str | None = None
    e: str | None = None


class Jwks(Contract):
    """`GET /.well-known/jwks.json`."""

    keys: list[Jwk]
