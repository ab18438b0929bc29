"""The servers `make bench` starts beside the stack: the echo app, the naive baseline, and
model-service processes of its own for the cold start. Each is pinned to CPU 0 when pinning is
possible, as the stack is."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from scripts.bench.measure import PINNED, rss_mib
from servir_runtime.processes import HOST, free_port
from servir_runtime.settings import DEV_INTERNAL_TOKEN
from servir_runtime.stack import ROOT

INTERNAL = {"X-Servir-Internal-Token": DEV_INTERNAL_TOKEN}


@dataclass
class Server:
    """A started server: its process id (the one to read /proc for) and URL."""

    pid: int
    url: str


def pinned(command: list[str]) -> list[str]:
    """`command` on CPU 0 when pinning is possible (taskset execs it: the pid stays)."""
    return ["taskset", "-c", "0", *command] if PINNED else command


def answers(url: str, body: bytes | None, headers: dict[str, str]) -> bool:
    """Whether a request (POST when `body` is given) gets a 200 now."""
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (loopback)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def wait_for(
    process: subprocess.Popen[bytes],
    check: tuple[str, bytes | None, dict[str, str]],
    timeout: float,
    since: float | None = None,
) -> float:
    """Seconds from `since` (default: now) until `check` (url, body, headers) answers 200;
    RuntimeError if it never does."""
    started = time.monotonic() if since is None else since
    while time.monotonic() - started < timeout:
        if answers(*check):
            return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"{process.args!r} did not answer in {timeout} s")


@contextmanager
def spawned(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A pinned child in its own process group, stopped (its group) on the way out."""
    process = subprocess.Popen(
        pinned(command),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextmanager
def echo() -> Iterator[Server]:
    """The bare-uvicorn echo app."""
    port = free_port()
    with spawned([sys.executable, "-m", "scripts.bench.echo", str(port)]) as process:
        url = f"http://{HOST}:{port}"
        wait_for(process, (url, b"{}", {}), 60)
        yield Server(process.pid, url)


@contextmanager
def baseline(store: Path, probe: bytes) -> Iterator[Server]:
    """The naive FastAPI baseline over the bench's store."""
    port = free_port()
    command = [sys.executable, "-m", "scripts.bench.baseline", str(store), str(port)]
    with spawned(command) as process:
        url = f"http://{HOST}:{port}"
        wait_for(process, (f"{url}/models/iris/predict", probe, {}), 120)
        yield Server(process.pid, url)


def service_env(store: Path, redis_url: str, runtime: str, port: int) -> dict[str, str]:
    """A model-service of the bench's own on `store` (development settings, quiet log)."""
    return {
        **os.environ,
        "SERVIR_ENV": "test",
        "MODEL_PORT": str(port),
        "MODEL_REDIS_URL": redis_url,
        "MODEL_MODELS_DIR": str(store),
        "MODEL_RUNTIME": runtime,
        "MODEL_ACCESS_LOG_SAMPLE": "0",
    }


def cold_start(store: Path, redis_url: str, runtime: str, probe: bytes) -> dict[str, float]:
    """Spawn to first 200 on iris's predict route, and VmRSS (MiB) just then."""
    port = free_port()
    command = [sys.executable, "-m", "model_service"]
    spawn = time.monotonic()
    with spawned(command, service_env(store, redis_url, runtime, port)) as process:
        url = f"http://{HOST}:{port}/models/iris/predict"
        seconds = wait_for(process, (url, probe, INTERNAL), 300, since=spawn)
        return {
            "start_to_first_prediction_s": round(seconds, 2),
            "rss_after_start_mib": rss_mib(process.pid),
        }
