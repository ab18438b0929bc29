"""`make bench`: bounded load against the stack, printed as JSON (figures, not assertions).

The services run pinned to CPU 0 and wrk to CPU 1, as PERFORMANCE.md measures. Each scenario
gets a warm-up, then a fixed duration; the direct model-service figure is the baseline that
shows what the gateway hop costs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_stack import Stack
from shared_schemas.runtime.settings import DEV_INTERNAL_TOKEN

DURATION_S = int(os.environ.get("BENCH_DURATION", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WARMUP_S = 1
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Result:
    """One scenario's figures."""

    scenario: str
    url: str
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


def wrk(url: str, headers: dict[str, str], seconds: int) -> str:
    """Run wrk on CPU 1 and return its report."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "1", *command]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


def measure(scenario: str, url: str, headers: dict[str, str] | None = None) -> Result:
    """Warm up, then measure one URL."""
    wrk(url, headers or {}, WARMUP_S)
    report = wrk(url, headers or {}, DURATION_S)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    return Result(
        scenario=scenario,
        url=url,
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


def main() -> int:
    """Start a stack, run every scenario, print JSON."""
    quiet = {f"{p}_ACCESS_LOG_SAMPLE": "0" for p in ("GATEWAY", "AUTH", "MODEL")}
    pin = 0 if (os.cpu_count() or 1) > 1 and shutil.which("taskset") else None
    with (
        tempfile.TemporaryDirectory() as data,
        Stack(data_dir=Path(data), env={"SERVIR_ENV": "test", **quiet}, pin_cpu=pin) as stack,
    ):
        internal = {"X-Servir-Internal-Token": DEV_INTERNAL_TOKEN}
        results = [
            measure("gateway: own route (GET /livez)", f"{stack.gateway_url}/livez"),
            measure(
                "gateway -> model-service (GET /v2/health/ready)",
                f"{stack.gateway_url}/v2/health/ready",
            ),
            measure(
                "model-service direct, baseline (GET /v2/health/ready)",
                f"{stack.model_url}/v2/health/ready",
                internal,
            ),
            measure(
                "gateway -> model-service, JWT verified (GET /v2)",
                f"{stack.gateway_url}/v2",
                {"Authorization": f"Bearer {admin_token(stack.gateway_url)}"},
            ),
            measure("model-service direct, baseline (GET /v2)", f"{stack.model_url}/v2", internal),
        ]
    report = {
        "tool": "wrk -t1",
        "connections": CONNECTIONS,
        "duration_s": DURATION_S,
        "server_cpu": pin,
        "results": [asdict(result) for result in results],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
