"""The sustainable rate, measured (`SOAK_PROBE=1`): a short ramp of open-loop steps.

After the steady phase the generator offers `rate * 1.25**k` for a couple of seconds per step;
the sustainable rate is the last step whose answers were all 2xx with p99 within the limit.
Off by default: on a shared machine two-second steps measure the neighbours as much as the
stack (from 100 to 477 req/s in successive runs here), and the overload rate follows.
"""

from dataclasses import dataclass

from scripts.soak.load import LoadGenerator
from scripts.soak.report import latency, ok

STEP_FACTOR = 1.25
MAX_STEPS = 14  # 100 req/s * 1.25**14 ~ 2300 req/s: beyond any one core here


@dataclass(frozen=True)
class Step:
    """One step of the ramp."""

    rate: float
    p99_ms: float
    non_2xx: int

    def held(self, p99_limit_ms: float) -> bool:
        """All answers 2xx, p99 within the limit."""
        return self.non_2xx == 0 and self.p99_ms <= p99_limit_ms


async def sustainable_rate(
    load: LoadGenerator, *, start: float, step_seconds: float, p99_limit_ms: float
) -> tuple[float, list[Step]]:
    """Ramp from `start` until a step fails; (the last rate held, every step)."""
    steps: list[Step] = []
    held, rate = start, start
    for _ in range(MAX_STEPS):
        rate *= STEP_FACTOR
        name = f"probe-{round(rate)}"
        await load.phase(name, rate, step_seconds)
        await load.drain()  # each step is judged on all of its answers
        samples = [s for s in load.samples if s.phase == name]
        step = Step(
            rate=round(rate, 1),
            p99_ms=latency(samples)["p99_ms"],
            non_2xx=sum(1 for s in samples if not ok(s)),
        )
        steps.append(step)
        if not step.held(p99_limit_ms):
            break
        held = rate
    return round(held, 1), steps
