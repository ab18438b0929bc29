"""Failed authentication per client IP: each 401 counts, and past the quota the address is
refused (429) before its credentials are read, until its window ends.

Only failures are counted, in Redis with the other limits, so a request that authenticates
pays no extra round trip. A counted failure over the quota also blocks the address in
process: the check on every later request is one dictionary lookup. Another gateway learns
the block from its own next counted failure of that address (one more check at most).
"""

import time
from collections.abc import Callable

from gateway.errors import RateLimited
from gateway.limits.ratelimit import Decision, Policy, RateLimiter, decide


class FailedAuthLimit:
    """Counts 401s per client IP under `policy`; off when `limiter` is None."""

    def __init__(
        self,
        limiter: RateLimiter | None,
        policy: Policy,
        *,
        max_blocked: int,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.limiter = limiter
        self.policy = policy
        self.max_blocked = max_blocked
        self.on_refused = on_refused
        self._blocked: dict[str, float] = {}  # client IP -> monotonic end of its window

    def refusal(self, client_ip: str | None) -> Decision | None:
        """The refusal of an address over its budget, or None; no Redis involved."""
        if client_ip is None or not self._blocked:
            return None
        until = self._blocked.get(client_ip)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[client_ip]
            return None
        return decide(self.policy, self.policy.quota + 1, left * 1000)

    async def failed(self, client_ip: str | None) -> Decision | None:
        """Count one failure of `client_ip`; the decision, or None when not counted."""
        if self.limiter is None or client_ip is None:
            return None
        decision = await self.limiter.check(self.policy, client_ip)
        if not decision.allowed:
            self._block(client_ip, decision.reset_seconds)
        return decision

    def refuse(self, decision: Decision) -> RateLimited:
        """The 429 to raise for a refused decision (counted in the metrics)."""
        if self.on_refused is not None:
            self.on_refused(self.policy.name)
        return RateLimited(decision.headers())

    def _block(self, client_ip: str, seconds: int) -> None:
        self._blocked.pop(client_ip, None)  # re-inserted last: the oldest blocks go first
        while len(self._blocked) >= self.max_blocked:
            # A forgotten block costs one more counted failure, which blocks again.
            del self._blocked[next(iter(self._blocked))]
        self._blocked[client_ip] = time.monotonic() + seconds
