"""API keys: introspected at the auth-service, then served from a short in-memory cache.

A key not shaped as the auth-service mints them is refused without asking. The caches are
keyed by the key's SHA-256, never the key. An active entry stops counting at once when the
revocation feed revokes its id or touches its owner; otherwise it is reused for
`cache_seconds`, and a key seen active keeps working for `stale_seconds` while the
auth-service cannot be asked. Keys found inactive are remembered apart, in a bounded cache
of their own for `negative_seconds`, so a flood of made-up keys cannot push active ones out.
The feed never says a key became active, so nothing there can void a negative entry early.
"""

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.auth.access import Principal, known_scopes
from gateway.auth.revocations import RevocationMirror
from gateway.errors import InvalidToken
from servir_runtime.problems import ServiceError
from shared_schemas.apikey_format import well_formed_api_key
from shared_schemas.auth import Introspection

logger = logging.getLogger("gateway.apikeys")

Introspect = Callable[[str], Awaitable[Introspection]]
INVALID = "The API key is invalid."


@dataclass(frozen=True, slots=True)
class CachedKey:
    """What introspection said about one active key, and when."""

    principal: Principal
    key_id: str | None
    expires_at: float | None  # epoch seconds
    checked_at: float  # monotonic
    sequence: int  # the mirror's change number when introspection was asked


def principal_of(answer: Introspection) -> Principal | None:
    """The principal an introspection answer describes, if it is an active API key."""
    if not answer.active or answer.token_type != "api_key" or not answer.sub or not answer.jti:
        return None
    return Principal(
        name=f"key:{answer.jti}", username=answer.sub, scopes=known_scopes(answer.scope)
    )


class ApiKeyVerifier:
    """Turns an `X-API-Key` into a principal, asking the auth-service as rarely as it can."""

    def __init__(
        self,
        *,
        introspect: Introspect,
        mirror: RevocationMirror,
        cache_seconds: float,
        stale_seconds: float,
        max_entries: int,
        negative_seconds: float,
        max_negative: int,
    ) -> None:
        self._introspect = introspect
        self._mirror = mirror
        self._cache_seconds = cache_seconds
        self._stale_seconds = max(stale_seconds, cache_seconds)
        self._max_entries = max_entries
        self._cache: dict[bytes, CachedKey] = {}
        self._inactive = ExpiringSet(seconds=negative_seconds, max_entries=max_negative)

    async def verify(self, key: str) -> Principal:
        """The key's principal; 401 if it is not an active key, 503/504/502 if it cannot be
        checked and was not seen active recently."""
        if not well_formed_api_key(key):
            raise InvalidToken(INVALID)
        digest = hashlib.sha256(key.encode()).digest()
        entry = self._usable(digest)
        if entry is None or time.monotonic() - entry.checked_at >= self._cache_seconds:
            if entry is None and self._inactive.holds(digest):
                raise InvalidToken(INVALID)
            entry = await self._refresh(key, digest, entry)
            if self._owner_changed(entry):
                # The feed touched the owner while we asked: the answer may predate it.
                entry = await self._refresh(key, digest, None)
        return self._accept(entry)

    def remembered(self, key: str) -> bool:
        """Whether `key` was seen active: checking it again asks the auth-service at most once
        per `cache_seconds`, however often it is sent."""
        return hashlib.sha256(key.encode()).digest() in self._cache

    def _usable(self, digest: bytes) -> CachedKey | None:
        entry = self._cache.get(digest)
        if entry is None or self._valid(entry):
            return entry
        del self._cache[digest]
        return None

    def _valid(self, entry: CachedKey) -> bool:
        expired = entry.expires_at is not None and entry.expires_at <= time.time()
        revoked = self._mirror.api_key_revoked(entry.key_id or "")
        return not expired and not revoked and not self._owner_changed(entry)

    def _owner_changed(self, entry: CachedKey) -> bool:
        return self._mirror.user_changed_since(entry.principal.username, entry.sequence)

    async def _refresh(self, key: str, digest: bytes, entry: CachedKey | None) -> CachedKey:
        sequence = self._mirror.sequence()  # read before asking: see RevocationMirror
        try:
            answer = await self._introspect(key)
        except ServiceError as exc:
            if entry is None:
                raise
            if time.monotonic() - entry.checked_at >= self._stale_seconds:
                raise
            logger.warning("api key served from cache", extra={"reason": exc.detail})
            return entry
        principal = principal_of(answer)
        if principal is None:
            self._cache.pop(digest, None)
            self._inactive.add(digest)
            raise InvalidToken(INVALID)
        fresh = CachedKey(principal, answer.jti, answer.exp, time.monotonic(), sequence)
        self._store(digest, fresh)
        return fresh

    def _store(self, digest: bytes, entry: CachedKey) -> None:
        self._inactive.discard(digest)
        self._cache.pop(digest, None)  # re-inserted last: the oldest entries go first
        if len(self._cache) >= self._max_entries:
            del self._cache[next(iter(self._cache))]
        self._cache[digest] = entry

    def _accept(self, entry: CachedKey) -> Principal:
        if not self._valid(entry):
            raise InvalidToken(INVALID)
        return entry.principal


class ExpiringSet:
    """Digests remembered for `seconds` each, at most `max_entries` (the oldest go first)."""

    def __init__(self, *, seconds: float, max_entries: int) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._until: dict[bytes, float] = {}  # digest -> monotonic expiry, oldest first

    def add(self, digest: bytes) -> None:
        """Remember `digest` from now on, for `seconds`."""
        self._until.pop(digest, None)
        while len(self._until) >= self.max_entries:
            del self._until[next(iter(self._until))]
        self._until[digest] = time.monotonic() + self.seconds

    def discard(self, digest: bytes) -> None:
        """Forget `digest`, if remembered."""
        self._until.pop(digest, None)

    def holds(self, digest: bytes) -> bool:
        """Whether `digest` is remembered and not yet expired."""
        until = self._until.get(digest)
        if until is None:
            return False
        if until <= time.monotonic():
            del self._until[digest]
            return False
        return True
