"""`make bench`: bounded load against the stack and a naive baseline, printed as JSON.

Figures, not assertions. The servers run pinned to CPU 0 and wrk to CPU 1, so the load generator
never takes the servers' core; each scenario gets a warm-up, then a fixed duration. The baseline
(scripts/bench/baseline.py: plain FastAPI, Pydantic body, `predict` in the handler) serves the
same bundles in the same run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_runtime.processes import free_port
from servir_runtime.settings import DEV_INTERNAL_TOKEN
from servir_runtime.stack import ROOT, Stack

DURATION_S = int(os.environ.get("BENCH_DURATION", "5"))
WARMUP_S = 1
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
PINNED = (os.cpu_count() or 1) > 1 and shutil.which("taskset") is not None
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@dataclass
class Scenario:
    """One load: a URL, its headers and body, how many connections."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    connections: int = 32


@dataclass
class Result:
    """One scenario's figures."""

    scenario: str
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return round(float(match.group(1)) * UNITS_MS[match.group(2)], 3) if match else -1.0


def _count(pattern: str, text: str) -> int:
    return sum(int(n) for n in re.findall(pattern, text))


def _script(scenario: Scenario, folder: Path) -> list[str]:
    if scenario.body is None:
        return []
    script = folder / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{scenario.body.decode()}]]\n"
    )
    return ["-s", str(script)]


def wrk(scenario: Scenario, seconds: int) -> str:
    """Run wrk on CPU 1 and return its report."""
    with tempfile.TemporaryDirectory() as folder:
        command = ["wrk", "-t1", f"-c{scenario.connections}", f"-d{seconds}s", "--latency"]
        for name, value in scenario.headers.items():
            command += ["-H", f"{name}: {value}"]
        command += [*_script(scenario, Path(folder)), scenario.url]
        if PINNED:
            command = ["taskset", "-c", "1", *command]
        run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
        return run.stdout


def measure(scenario: Scenario) -> Result:
    """Warm up, then measure one scenario."""
    wrk(scenario, WARMUP_S)
    report = wrk(scenario, DURATION_S)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    return Result(
        scenario=scenario.name,
        connections=scenario.connections,
        requests_per_s=float(rps.group(1)) if rps else 0.0,
        p50_ms=_latency_ms(report, "50"),
        p99_ms=_latency_ms(report, "99"),
        non_2xx=_count(r"Non-2xx or 3xx responses:\s+(\d+)", report),
        socket_errors=_count(r"(?:connect|read|write|timeout) (\d+)", report),
    )


def admin_token(gateway_url: str) -> str:
    """An access token of the bootstrap admin (development default password)."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": "admin", "password": DEV_ADMIN_PASSWORD}
    ).encode()
    request = urllib.request.Request(f"{gateway_url}/auth/token", data=form)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        token: str = json.load(response)["access_token"]
        return token


def one_row(models_dir: Path, name: str) -> bytes:
    """A one-row request body for a demo model (its training means, or a known iris row)."""
    if name == "iris":
        return json.dumps({"instances": [IRIS_ROW]}).encode()
    manifest = json.loads((models_dir / name / "1" / "manifest.json").read_text())
    stats = manifest["training_stats"]
    row = {f["name"]: round(stats[f["name"]]["mean"], 4) for f in manifest["features"]}
    return json.dumps({"instances": [row]}).encode()


def start_baseline(models_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The naive baseline server, pinned like the stack, once it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "scripts.bench.baseline",
        str(models_dir),
        str(port),
    ]
    if PINNED:
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    body = one_row(models_dir, "iris")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(  # noqa: S310 (loopback)
                f"{url}/models/iris/predict",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the baseline server did not start")


def scenarios(stack: Stack, baseline: str, models_dir: Path) -> list[Scenario]:
    """Everything `make bench` measures, in order."""
    internal = {"X-Servir-Internal-Token": DEV_INTERNAL_TOKEN}
    bearer = {"Authorization": f"Bearer {admin_token(stack.gateway_url)}"}
    iris, forest = one_row(models_dir, "iris"), one_row(models_dir, "breast-cancer")
    gateway, direct = stack.gateway_url, stack.model_url
    return [
        Scenario("gateway: own route (GET /livez)", f"{gateway}/livez"),
        Scenario("gateway -> model-service, JWT (GET /v2)", f"{gateway}/v2", bearer),
        Scenario("model-service direct (GET /v2)", f"{direct}/v2", internal),
        Scenario("iris 1 row: servir direct", f"{direct}/models/iris/predict", internal, iris, 64),
        Scenario("iris 1 row: baseline", f"{baseline}/models/iris/predict", {}, iris, 64),
        Scenario("iris 1 row: gateway, JWT", f"{gateway}/models/iris/predict", bearer, iris, 64),
        Scenario("iris c=1: servir direct", f"{direct}/models/iris/predict", internal, iris, 1),
        Scenario("iris c=1: gateway, JWT", f"{gateway}/models/iris/predict", bearer, iris, 1),
        Scenario(
            "breast-cancer RF 1 row: servir direct",
            f"{direct}/models/breast-cancer/predict", internal, forest, 64,
        ),
        Scenario(
            "breast-cancer RF 1 row: baseline",
            f"{baseline}/models/breast-cancer/predict", {}, forest, 64,
        ),
    ]  # fmt: skip


def _ratio(results: dict[str, Result], ours: str, theirs: str) -> dict[str, float]:
    mine, base = results[ours], results[theirs]
    return {
        "throughput_x": round(mine.requests_per_s / max(base.requests_per_s, 1e-9), 2),
        "p99_ms": mine.p99_ms,
        "baseline_p99_ms": base.p99_ms,
    }


def report(results: dict[str, Result]) -> dict[str, object]:
    """The JSON `make bench` prints: every scenario, the baseline ratios, the gateway's cost."""
    through = results["iris 1 row: gateway, JWT"]
    direct = results["iris 1 row: servir direct"]
    return {
        "tool": "wrk -t1",
        "duration_s": DURATION_S,
        "servers_on_cpu": 0 if PINNED else None,
        "results": [asdict(result) for result in results.values()],
        "vs_baseline": {
            "iris": _ratio(results, "iris 1 row: servir direct", "iris 1 row: baseline"),
            "breast-cancer": _ratio(
                results, "breast-cancer RF 1 row: servir direct", "breast-cancer RF 1 row: baseline"
            ),
        },
        # Issue 5's targets: added p50 at c=1 <= 1 ms; gateway throughput at c=64 >= 35% of
        # direct, every server on the one pinned core.
        "gateway_cost": {
            "added_p50_ms_c1": round(
                results["iris c=1: gateway, JWT"].p50_ms
                - results["iris c=1: servir direct"].p50_ms,
                3,
            ),
            "throughput_share_c64": round(
                through.requests_per_s / max(direct.requests_per_s, 1e-9), 3
            ),
            "rate_limits": "on (quota set high)",
        },
    }


def main() -> int:
    """Start the stack and the baseline, run every scenario, print JSON."""
    models_dir = ROOT / "models"
    quiet = {f"{p}_ACCESS_LOG_SAMPLE": "0" for p in ("GATEWAY", "AUTH", "MODEL")}
    # Rate limits stay on (one Redis script per request), with a quota no run can exhaust.
    limits = {"GATEWAY_RATE_LIMIT_DEFAULT": "1000000000/60"}
    env = {"SERVIR_ENV": "test", "MODEL_MODELS_DIR": str(models_dir), **quiet, **limits}
    baseline, baseline_url = start_baseline(models_dir)
    try:
        with (
            tempfile.TemporaryDirectory() as data,
            Stack(data_dir=Path(data), env=env, pin_cpu=0 if PINNED else None) as stack,
        ):
            results = {s.name: measure(s) for s in scenarios(stack, baseline_url, models_dir)}
    finally:
        baseline.terminate()
        baseline.wait(timeout=10)
    print(json.dumps(report(results), indent=2))
    return 0
