"""`make bench`: one run measures the HTTP floor (a bare echo app), the naive baseline, the
model-service alone (JSON and V2 routes, on each MODEL_RUNTIME) and the whole stack through the
gateway, on iris, the RandomForest and a gradient-boosted model; then cold start and memory.

Figures, not assertions. Servers run pinned to CPU 0 and wrk to CPU 1; each cell gets a warm-up,
then a fixed duration, with the servers' CPU time read from /proc around it. BENCH_QUICK=1 runs
the reduced matrix (matrix.py). JSON on stdout, a table on stderr.
"""

import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts.bench import servers
from scripts.bench.matrix import BASELINE, ECHO, RUNTIMES, SERVICE, STACK, V2, Cell, Plan, plan
from scripts.bench.measure import PINNED, Load, cpu_ms, parse_wrk, per_request_ms, rss_mib, run_wrk
from scripts.bench.report import document, say, table
from scripts.bench.stackrun import Target, admin_token, stack_env
from scripts.bench.store import DEMO, MODELS, json_body, make_store, rows, v2_body
from scripts.bench.summary import summary
from servir_runtime.stack import ROOT, Stack


class Bodies:
    """Every request body the matrix needs, made once from the store's manifests."""

    def __init__(self, store: Path) -> None:
        self.tables = {(m, n): rows(store, m, n) for m in MODELS for n in (1, 100)}

    def of(self, cell: Cell) -> bytes:
        table = self.tables[("iris" if cell.model == "-" else cell.model, cell.rows)]
        return v2_body(table) if cell.route == V2 else json_body(table)


def url_of(cell: Cell, base: str) -> str:
    """Where a cell's requests go."""
    if cell.target == ECHO:
        return f"{base}/echo"
    if cell.route == V2:
        return f"{base}/v2/models/{cell.model}/infer"
    return f"{base}/models/{cell.model}/predict"


def measure(cell: Cell, target: Target, bodies: Bodies, plan: Plan) -> dict[str, Any]:
    """Warm up, then one cell (`plan.repeats` runs, the median's figures): wrk's figures and
    the servers' CPU per request."""
    load = Load(url_of(cell, target.url), target.headers, bodies.of(cell), cell.connections)
    run_wrk(load, plan.warmup_s)
    runs = sorted(
        (one_run(cell, target, load, plan.duration_s) for _ in range(plan.repeats)),
        key=lambda run: float(run["requests_per_s"]),
    )
    result = runs[len(runs) // 2]
    if plan.repeats > 1:
        result["requests_per_s_runs"] = [run["requests_per_s"] for run in runs]
    cost = result["cpu_ms_per_request"]
    say(f"  {cell.name}: {result['requests_per_s']:.0f} req/s, {cost} ms CPU/request")
    return result


def one_run(cell: Cell, target: Target, load: Load, seconds: int) -> dict[str, Any]:
    """One wrk run of a cell, with the servers' CPU time read around it."""
    before = [cpu_ms([pid]) for pid in target.pids]
    figures = parse_wrk(run_wrk(load, seconds))
    after = [cpu_ms([pid]) for pid in target.pids]
    result: dict[str, Any] = {"cell": cell.name, **asdict(cell), **asdict(figures)}
    result["cpu_ms_per_request"] = per_request_ms(sum(before), sum(after), figures.requests)
    if cell.target == STACK:  # pids: gateway first
        result["gateway_cpu_ms_per_request"] = per_request_ms(before[0], after[0], figures.requests)
    return result


def run_cells(plan: Plan, server: Target, bodies: Bodies, **match: str) -> list[dict[str, Any]]:
    """Measure the plan's cells whose fields equal `match` (target=..., runtime=...)."""
    chosen = [c for c in plan.cells if all(getattr(c, k) == v for k, v in match.items())]
    return [measure(cell, server, bodies, plan) for cell in chosen]


def cold_starts(work: Path, redis_url: str, probe: bytes) -> dict[str, Any]:
    """Start to first prediction with the demo models, once their verification passes are
    recorded (a first start records them), per runtime."""
    store = make_store(ROOT / "models", work / "demo-store", DEMO)
    servers.cold_start(store, redis_url, "auto", probe)
    return {runtime: servers.cold_start(store, redis_url, runtime, probe) for runtime in RUNTIMES}


def through_gateway(plan: Plan, stack: Stack, bodies: Bodies) -> list[dict[str, Any]]:
    """The gateway's cells: a real token; CPU of gateway, auth-service and model-service."""
    pids = [stack.process(n).popen.pid for n in ("gateway", "auth-service", "model-service")]
    bearer = {"Authorization": f"Bearer {admin_token(stack.gateway_url)}"}
    return run_cells(plan, Target(stack.gateway_url, bearer, pids), bodies, target=STACK)


def on_stack(
    plan: Plan, work: Path, store: Path, bodies: Bodies
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The model-service alone on each runtime, the gateway's cells, cold starts and RSS."""
    results: list[dict[str, Any]] = []
    memory: dict[str, dict[str, float]] = {}
    pin = 0 if PINNED else None
    with Stack(data_dir=work / "stack", env=stack_env(store, RUNTIMES[0]), pin_cpu=pin) as stack:
        cold = cold_starts(work, stack.redis_url, bodies.of(Cell(SERVICE, "json", "iris", 1, 1)))
        for runtime in RUNTIMES:
            if runtime != RUNTIMES[0]:
                stack.restart_service("model-service", env={"MODEL_RUNTIME": runtime})
            service = stack.process("model-service").popen.pid
            memory[runtime] = {"rss_after_start_mib": rss_mib(service)}
            direct = Target(stack.model_url, servers.INTERNAL, [service])
            results += run_cells(plan, direct, bodies, target=SERVICE, runtime=runtime)
            if runtime == RUNTIMES[0]:
                results += through_gateway(plan, stack, bodies)
            memory[runtime]["rss_after_load_mib"] = rss_mib(service)
    return results, {"cold_start": cold, "model_service_memory": memory}


def main() -> int:
    """Make the store, run every cell of the plan, print JSON (stdout) and a table (stderr)."""
    chosen = plan(dict(os.environ))
    say(f"bench: {len(chosen.cells)} cells, about {chosen.estimate_s() // 60 + 2} min")
    # As the images run (their packages compiled when installed): a first start caches the
    # bytecode, so no measured start pays for compiling the libraries.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        store = make_store(ROOT / "models", work / "store", MODELS)
        bodies = Bodies(store)
        results: list[dict[str, Any]] = []
        with servers.echo() as echo:
            results += run_cells(chosen, Target(echo.url, {}, [echo.pid]), bodies, target=ECHO)
        with servers.baseline(store, bodies.of(Cell(BASELINE, "json", "iris", 1, 1))) as naive:
            server = Target(naive.url, {}, [naive.pid])
            results += run_cells(chosen, server, bodies, target=BASELINE)
        stack_results, extras = on_stack(chosen, work, store, bodies)
    extras["summary"] = summary(results + stack_results, MODELS)
    extras["elapsed_s"] = round(time.monotonic() - started)
    say(table(results + stack_results, extras))
    print(json.dumps(document(chosen, results + stack_results, extras, PINNED), indent=2))
    return 0
