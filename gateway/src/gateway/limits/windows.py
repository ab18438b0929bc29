"""Fixed windows counted in process: the rate limiter's fallback while Redis is unreachable."""

from collections import OrderedDict


class LocalWindows:
    """Per-key request counts in windows that open with a key's first request.

    Bounded: beyond `max_keys` the oldest windows are forgotten (their keys start afresh),
    so a flood of distinct identities cannot grow memory without limit.
    """

    def __init__(self, *, max_keys: int) -> None:
        self.max_keys = max_keys
        self._windows: OrderedDict[str, list[float]] = OrderedDict()

    def hit(self, key: str, window_seconds: int, now: float) -> tuple[int, float]:
        """Count one request; return the count in its window and the milliseconds left."""
        window = self._windows.get(key)
        if window is None or window[1] <= now:
            window = [0.0, now + window_seconds]
            self._windows[key] = window
            self._windows.move_to_end(key)
            while len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
        window[0] += 1
        return int(window[0]), (window[1] - now) * 1000

    def clear(self) -> None:
        """Forget every window."""
        self._windows.clear()

    def __len__(self) -> int:
        return len(self._windows)
