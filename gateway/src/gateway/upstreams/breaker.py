"""A circuit breaker per upstream: after repeated failures, refuse at once for a while.

Closed: requests pass; `failures` consecutive transport failures (a timeout, an invalid reply,
a connection attempt that hangs) open it. A refused connection is not one: it fails fast by
itself, and the balancer ejects that replica. Open: every request is refused at once
(503 + Retry-After) for `open_seconds`. Half-open: one probe passes; its success closes
the breaker, its failure opens it again. An HTTP answer of any status is a success: the
upstream is alive.
"""

import math
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitOpen(Exception):
    """The breaker refuses this request; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Breaker:
    """Counts consecutive failures of one upstream."""

    def __init__(
        self,
        *,
        failures: int,
        open_seconds: float,
        on_change: Callable[[State], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.open_seconds = open_seconds
        self.on_change = on_change
        self.clock = clock
        self.state: State = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False

    def admit(self) -> bool:
        """Let a request through (True when it is the half-open probe), or raise CircuitOpen."""
        if self.state == "closed":
            return False
        waited = self.clock() - self.opened_at
        if self.state == "open" and waited >= self.open_seconds:
            self._set("half_open")
        if self.state == "half_open" and not self.probing:
            self.probing = True
            return True
        raise CircuitOpen(max(1, math.ceil(self.open_seconds - waited)))

    def success(self, *, probe: bool) -> None:
        """A request got an HTTP answer."""
        self.failures = 0
        if probe:
            self.probing = False
        if self.state != "closed" and (probe or self.state == "half_open"):
            self._set("closed")

    def failure(self, *, probe: bool) -> None:
        """A request failed in transport."""
        if probe:
            self.probing = False
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self.opened_at = self.clock()
            if self.state != "open":
                self._set("open")

    def release(self, *, probe: bool) -> None:
        """A request ended without telling (e.g. cancelled): free the probe slot."""
        if probe:
            self.probing = False

    def _set(self, state: State) -> None:
        self.state = state
        if self.on_change is not None:
            self.on_change(state)
