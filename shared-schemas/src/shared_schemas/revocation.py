"""The revocation feed: what the auth-service revokes, every gateway mirrors in memory.

The auth-service writes the state to these Redis keys and publishes each change on the channel;
a gateway loads the whole state when it (re)connects and then follows the channel.
"""

from typing import Literal

from shared_schemas.base import Contract

CHANNEL = "servir:revocations"
# Sorted set: member = access-token id (jti), score = the token's `exp` (prunable after it).
REVOKED_TOKENS_KEY = "auth:revoked:jti"
# Hash: username -> epoch seconds; that user's tokens issued before it are void.
USER_CUTOFFS_KEY = "auth:revoked:user"
# Sorted set: member = API key id, score = when it was revoked.
REVOKED_API_KEYS_KEY = "auth:revoked:api_key"

RevocationKind = Literal["token", "user", "api_key", "signing_keys"]


class RevocationEvent(Contract):
    """One revocation, as published on `CHANNEL`.

    - `token`: `subject` is a jti; `until` is when the token expires anyway.
    - `user`: `subject` is a username; tokens issued before `at` die, and the user's API keys
      must be re-checked (disabled or deleted users' keys stop working).
    - `api_key`: `subject` is an API key id.
    - `signing_keys`: the set of signing keys changed; refetch the JWKS.
    """

    kind: RevocationKind
    subject: str
    at: float
    until: float | None = None
