"""What a batch queue has measured of its traffic and its model: how often callers arrive, how
many are about at once, how long a predict call takes. Moving averages, updated in O(1)."""

import time
from dataclasses import dataclass

# Each new sample's weight in the moving averages: about the last ten count.
WEIGHT = 0.2
# Before this many arrivals the pace says nothing, and the queue keeps its plain window.
WARM_ARRIVALS = 8


def _moved(average: float | None, sample: float) -> float:
    return sample if average is None else average + WEIGHT * (sample - average)


@dataclass
class Pace:
    """One queue's measured traffic and predict time."""

    arrivals: int = 0
    last_arrival: float = 0.0
    gap: float | None = None  # seconds between arrivals
    callers: float | None = None  # callers about when a batch ends: running plus queued
    predict: float | None = None  # seconds per predict call

    def arrived(self, now: float) -> None:
        """Count an arrival."""
        if self.arrivals:
            self.gap = _moved(self.gap, now - self.last_arrival)
        self.arrivals += 1
        self.last_arrival = now

    def batch_ended(self, ran: int, queued: int) -> None:
        """Count the callers about as a batch ends: those it answered and those queued."""
        self.callers = _moved(self.callers, ran + queued)

    def predicted(self, seconds: float) -> None:
        """Count one predict call's time."""
        self.predict = _moved(self.predict, seconds)

    @property
    def warm(self) -> bool:
        """Whether enough arrivals were seen for the averages to mean something."""
        return self.arrivals >= WARM_ARRIVALS and self.gap is not None


def now() -> float:
    """The clock arrivals and windows are measured on."""
    return time.monotonic()
