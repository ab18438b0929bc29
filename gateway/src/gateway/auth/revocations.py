"""The gateway's in-memory mirror of the revocation feed (shared_schemas.revocation).

Every check here is a dictionary lookup: a request never waits on Redis. Revocations are
never undone, so a reload merges into what is known rather than replacing it: a Redis that
lost its data cannot bring a revoked token back.
"""

import math
from collections.abc import Iterable, Mapping

from shared_schemas.revocation import RevocationEvent


class RevocationMirror:
    """Revoked token ids, per-user cutoffs and revoked API key ids."""

    def __init__(self, *, grace_seconds: float) -> None:
        # A token stays refusable until its exp plus the clock leeway verification allows.
        self.grace_seconds = grace_seconds
        self._tokens: dict[str, float] = {}  # jti -> when it expires anyway
        self._cutoffs: dict[str, float] = {}  # username -> tokens issued before it are void
        self._api_keys: set[str] = set()
        # Every cutoff change gets a number, so a cache can tell whether a user changed
        # since it asked about them without comparing clocks of two machines.
        self._sequence = 0
        self._user_changed: dict[str, int] = {}

    def token_revoked(self, *, jti: str, username: str, issued_at: float) -> bool:
        """Whether this token was revoked, itself or through its user."""
        return jti in self._tokens or issued_at < self._cutoffs.get(username, -math.inf)

    def api_key_revoked(self, key_id: str) -> bool:
        """Whether this API key id was revoked."""
        return key_id in self._api_keys

    def sequence(self) -> int:
        """The current change number; pass it to `user_changed_since` later."""
        return self._sequence

    def user_changed_since(self, username: str, sequence: int) -> bool:
        """Whether the user's cutoff moved after `sequence` was read."""
        return self._user_changed.get(username, 0) > sequence

    def apply(self, event: RevocationEvent) -> None:
        """Record one event from the feed (`signing_keys` carries no state here)."""
        if event.kind == "token":
            self._tokens[event.subject] = math.inf if event.until is None else event.until
        elif event.kind == "user":
            self._raise_cutoff(event.subject, event.at)
            # Even when the cutoff did not move, the user's API keys must be checked again.
            self._mark_changed(event.subject)
        elif event.kind == "api_key":
            self._api_keys.add(event.subject)

    def load(
        self,
        *,
        tokens: Iterable[tuple[str, float]],
        cutoffs: Mapping[str, float],
        api_keys: Iterable[str],
    ) -> None:
        """Merge the whole state read from Redis."""
        for jti, until in tokens:
            self._tokens[jti] = max(until, self._tokens.get(jti, -math.inf))
        for username, cutoff in cutoffs.items():
            if self._raise_cutoff(username, cutoff):
                self._mark_changed(username)
        self._api_keys.update(api_keys)

    def prune(self, *, now: float) -> int:
        """Forget token ids that expired (past the grace); returns how many."""
        horizon = now - self.grace_seconds
        expired = [jti for jti, until in self._tokens.items() if until < horizon]
        for jti in expired:
            del self._tokens[jti]
        return len(expired)

    def counts(self) -> dict[str, int]:
        """How much is held, for log lines."""
        return {
            "tokens": len(self._tokens),
            "users": len(self._cutoffs),
            "keys": len(self._api_keys),
        }

    def _raise_cutoff(self, username: str, cutoff: float) -> bool:
        if cutoff <= self._cutoffs.get(username, -math.inf):
            return False
        self._cutoffs[username] = cutoff
        return True

    def _mark_changed(self, username: str) -> None:
        self._sequence += 1
        self._user_changed[username] = self._sequence
