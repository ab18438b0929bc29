"""Every Redis key the auth-service writes (prefix `auth:`); the revocation feed's keys live in
shared_schemas.revocation because the gateway reads them too."""

import hashlib


def text(value: bytes | str) -> str:
    """A Redis reply as text (the shared client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else value


USERS_INDEX = "auth:users"  # sorted set, every score 0: lexicographic pagination
ACTIVE_ADMINS = "auth:admins"  # set: enabled users holding users:admin


def user(username: str) -> str:
    """A user's record."""
    return f"auth:user:{username}"


def refresh_token(token_hash: str) -> str:
    """A refresh token's record, under the SHA-256 of the token."""
    return f"auth:refresh:{token_hash}"


def refresh_used(token_hash: str) -> str:
    """Set once a refresh token has been rotated; a second use is a reuse."""
    return f"auth:refresh-used:{token_hash}"


def family(family_id: str) -> str:
    """A refresh-token family's record."""
    return f"auth:family:{family_id}"


def family_revoked(family_id: str) -> str:
    """Present when a refresh-token family has been revoked."""
    return f"auth:family-revoked:{family_id}"


def family_access_tokens(family_id: str) -> str:
    """The access tokens issued with a family (sorted set: jti -> exp), revoked with it."""
    return f"auth:family-access:{family_id}"


def user_families(username: str) -> str:
    """The set of a user's refresh-token families, revoked when the user is deleted."""
    return f"auth:user-families:{username}"


def api_key(key_hash: str) -> str:
    """An API key's record, under the SHA-256 of the key."""
    return f"auth:api-key:{key_hash}"


def api_key_id(key_id: str) -> str:
    """Maps an API key id to the SHA-256 of the key."""
    return f"auth:api-key-id:{key_id}"


def user_api_keys(username: str) -> str:
    """The set of a user's API key ids."""
    return f"auth:user-api-keys:{username}"


def _digest(text: str) -> str:
    # A username comes from the caller unchecked: hashed, it cannot make a key long.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def login_failures_pair(username: str, ip: str) -> str:
    """Failures of one account from one client IP (a hash: failures, locked_until)."""
    return f"auth:login-failures:pair:{_digest(username)}:{ip}"


def login_failures_account(username: str) -> str:
    """Failed logins for one account, from anywhere, in the current window."""
    return f"auth:login-failures:user:{_digest(username)}"


def login_failures_ip(ip: str) -> str:
    """Failed logins from one client IP in the current window."""
    return f"auth:login-failures:ip:{ip}"
