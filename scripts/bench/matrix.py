"""What `make bench` measures: the full matrix, or BENCH_QUICK's reduced one for before/after
comparisons. A pure function of the environment (tests/test_bench.py checks both)."""

from dataclasses import dataclass

from scripts.bench.store import BOOSTED, MODELS

ECHO, BASELINE, SERVICE, STACK = "echo", "baseline", "model-service", "gateway"
JSON, V2 = "json", "v2"
RUNTIMES = ["auto", "sklearn"]  # MODEL_RUNTIME: compiled where parity holds / scikit-learn
# (rows, connections): single rows at 1, 8 and 64 connections, then 100-row requests.
FULL_SHAPES = [(1, 1), (1, 8), (1, 64), (100, 8), (100, 64)]
QUICK_SHAPES = [(1, 1), (1, 64), (100, 8)]


@dataclass(frozen=True)
class Cell:
    """One measurement: a server, a route, a runtime (model-service only), a model, a load."""

    target: str
    route: str
    model: str
    rows: int
    connections: int
    runtime: str = ""

    @property
    def name(self) -> str:
        """A short label, unique in a run."""
        runtime = f"[{self.runtime}]" if self.runtime else ""
        load = f"rows={self.rows} c={self.connections}"
        return f"{self.target}{runtime} {self.route} {self.model} {load}"


@dataclass(frozen=True)
class Plan:
    """The cells and how long each runs."""

    quick: bool
    warmup_s: int
    duration_s: int
    cells: list[Cell]
    repeats: int = 1  # runs per cell; the one with the median req/s is reported

    def estimate_s(self) -> int:
        """Time under load, without the servers' starts."""
        return len(self.cells) * (self.warmup_s + self.repeats * self.duration_s)


def _echo(shapes: list[tuple[int, int]]) -> list[Cell]:
    return [Cell(ECHO, "echo", "-", 1, c) for c in sorted({c for _, c in shapes})]


def _for(
    target: str, route: str, models: list[str], shapes: list[tuple[int, int]], runtime: str = ""
) -> list[Cell]:
    return [Cell(target, route, m, r, c, runtime) for m in models for r, c in shapes]


def full_cells() -> list[Cell]:
    """Every server, route, runtime, model and shape."""
    cells = _echo(FULL_SHAPES) + _for(BASELINE, JSON, MODELS, FULL_SHAPES)
    for runtime in RUNTIMES:
        for route in (JSON, V2):
            cells += _for(SERVICE, route, MODELS, FULL_SHAPES, runtime)
    return cells + _for(STACK, JSON, MODELS, FULL_SHAPES, "auto")


def quick_cells() -> list[Cell]:
    """Enough to compare two commits: c=64 and 100 rows against the baseline, every runtime
    and route of the model-service at 1 and 64 connections, the gateway's cost on iris."""
    not_boosted = [m for m in MODELS if m != BOOSTED]
    cells = [Cell(ECHO, "echo", "-", 1, 64)]
    cells += _for(BASELINE, JSON, not_boosted, [(1, 64), (100, 8)])
    for runtime in RUNTIMES:
        cells += _for(SERVICE, JSON, MODELS, QUICK_SHAPES, runtime)
        cells += _for(SERVICE, V2, not_boosted, QUICK_SHAPES, runtime)
    return cells + _for(STACK, JSON, ["iris"], [(1, 1), (1, 64)], "auto")


def plan(env: dict[str, str]) -> Plan:
    """BENCH_QUICK=1: the quick matrix, 3 s per cell; else the full one, 5 s per cell.
    BENCH_DURATION overrides the seconds per cell (each after a 1 s warm-up); BENCH_REPEAT
    runs each cell that many times and reports the run with the median req/s (on a machine
    whose neighbours come and go, one run can be a third off)."""
    quick = env.get("BENCH_QUICK", "") not in ("", "0")
    duration = int(env.get("BENCH_DURATION", "3" if quick else "5"))
    repeats = max(1, int(env.get("BENCH_REPEAT", "1")))
    return Plan(quick, 1, duration, quick_cells() if quick else full_cells(), repeats)
