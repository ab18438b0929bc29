"""The `default` policy counted in process and reconciled with Redis every sync interval, as
Kong's and Envoy's local counters do: one Redis round trip per busy key per interval instead of
one per request.

What is promised (docs/api.md): a replica admits at most `batch` requests of one key that Redis
has not counted yet; the next one waits for Redis (the exact path, which sends those along).
Whatever a replica admits locally, it admits only while its own view (Redis's count at its last
reply, plus what it admitted since) stays within the quota. So with R replicas, at most
(R - 1) x batch requests beyond the quota pass in one window: take the replica whose last reply
from Redis came latest; Redis's final count is that reply's count plus nothing newer, it admitted
at most quota minus that count since, and every other replica at most `batch` unreported.
With one replica the count is exact.

A local window ends no earlier than Redis's (its end is taken when a reply arrives: receive
time plus the milliseconds Redis said were left), so a count is never sent into a window that
this replica believes has ended; past the local end the next request takes the exact path.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Counted = tuple[int, float]  # a request's count in its window, and the ms left
RunScript = Callable[[list[str], list[str | int]], Awaitable[Any]]


@dataclass(slots=True)
class Tally:
    """One key's window as this replica sees it."""

    seen: int  # Redis's count at its latest reply in this window
    ends: float  # monotonic time the window ends, no earlier than in Redis
    window_ms: int  # the policy's window
    pending: int = 0  # admitted here, not yet sent to Redis
    sending: int = 0  # sent, the reply not back yet

    @property
    def unreported(self) -> int:
        """Admitted here and not yet in `seen`."""
        return self.pending + self.sending


class SyncedCounts:
    """Per-key tallies, flushed to Redis (INCRBY through `run`) every `interval` seconds.

    Bounded: beyond `max_keys` the oldest tallies are dropped; what they had not reported is
    still sent with the next flush, so no admission goes uncounted.
    """

    def __init__(
        self,
        run: RunScript,
        *,
        interval: float,
        max_keys: int,
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.run = run
        self.interval = interval
        self.max_keys = max_keys
        self.on_error = on_error
        self.tallies: dict[str, Tally] = {}
        self.dirty: set[str] = set()  # keys with pending admissions
        self.orphans: dict[str, tuple[int, int]] = {}  # dropped key -> (pending, window ms)
        self._flush: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def admit(self, key: str, quota: int, batch: int) -> Counted | None:
        """(count, ms left) for one request decided here, uncounted when over the quota; None
        when it must go to Redis (no window known, the window over, or `batch` unreported)."""
        tally = self.tallies.get(key)
        now = time.monotonic()
        if tally is None or tally.ends <= now or tally.unreported >= batch:
            return None
        count = tally.seen + tally.unreported + 1
        if count <= quota:
            tally.pending += 1
            self.dirty.add(key)
            if self._timer is None and self._flush is None:
                self._schedule()
        return count, (tally.ends - now) * 1000

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.interval, self._start_flush)

    async def exact(self, key: str, window_ms: int) -> Counted:
        """Count one request in Redis, sending this key's unreported ones along."""
        return await self._send(key, window_ms, 1)

    def _tallied(self, keys: set[str]) -> list[tuple[str, Tally]]:
        """The keys still tallied, with their tallies (a dropped one went to `orphans`)."""
        return [(key, self.tallies[key]) for key in keys if key in self.tallies]

    async def _send(self, key: str, window_ms: int, own: int) -> Counted:
        """INCRBY the key's pending admissions (plus `own`); record Redis's reply."""
        tally = self.tallies.get(key)
        sent = tally.pending if tally is not None else 0
        if sent + own == 0:
            return 0, 0.0  # reported already (by a request that went to Redis)
        if tally is not None:
            tally.pending, tally.sending = 0, tally.sending + sent
        try:
            count, left = await self.run([key], [window_ms, sent + own])
        finally:
            if tally is not None:
                tally.sending -= sent
        count, left = int(count), float(left)
        self._record(key, count, left, window_ms)
        return count, left

    def _record(self, key: str, count: int, left_ms: float, window_ms: int) -> None:
        now = time.monotonic()
        ends = now + left_ms / 1000
        tally = self.tallies.get(key)
        if tally is None:
            self._keep(key, Tally(count, ends, window_ms))
        elif tally.ends <= now or ends > tally.ends + window_ms / 2000:
            # A new window (in Redis or here); what is unreported will go into Redis's new one.
            tally.seen, tally.ends = count, ends
        else:
            tally.seen = max(tally.seen, count)
            tally.ends = min(tally.ends, ends)

    def _keep(self, key: str, tally: Tally) -> None:
        self.tallies[key] = tally
        while len(self.tallies) > self.max_keys:
            old_key = next(iter(self.tallies))
            old = self.tallies.pop(old_key)
            if old.pending:
                unreported, _ = self.orphans.get(old_key, (0, 0))
                self.orphans[old_key] = (unreported + old.pending, old.window_ms)
                if self._timer is None and self._flush is None:
                    self._schedule()

    def _start_flush(self) -> None:
        self._timer = None
        self._flush = asyncio.get_running_loop().create_task(self._flush_all())

    async def _flush_all(self) -> None:
        """Send every key's unreported count (one pipelined write) and record the replies."""
        dirty, self.dirty = self.dirty, set()
        orphans, self.orphans = self.orphans, {}
        try:
            await asyncio.gather(
                *(self._send(key, tally.window_ms, 0) for key, tally in self._tallied(dirty)),
                *(self.run([key], [ms, n]) for key, (n, ms) in orphans.items()),
            )
        except Exception as exc:
            self.on_error(exc)
        finally:
            self._flush = None
            if (self.dirty or self.orphans) and self._timer is None:
                self._schedule()

    def clear(self) -> None:
        """Forget every tally (Redis is away: the in-process fallback counts instead)."""
        self.tallies.clear()
        self.orphans.clear()
        self.dirty.clear()

    async def aclose(self) -> None:
        """Stop a scheduled or running flush."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        flush, self._flush = self._flush, None
        if flush is not None:
            flush.cancel()
            await asyncio.gather(flush, return_exceptions=True)
