"""A model-service as a process of its own, for tests that crash, hang, stop or replicate it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from servir_runtime.processes import free_port
from servir_runtime.stack import ROOT

START_SECONDS = 60.0


def spawn_model_service(
    store: Path, redis_url: str, log: Path, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m model_service` over `store` on a free port (output to `log`): handle, URL."""
    port = free_port()
    settings = {
        "SERVIR_ENV": "test",
        "MODEL_HOST": "127.0.0.1",
        "MODEL_PORT": str(port),
        "MODEL_MODELS_DIR": str(store),
        "MODEL_REDIS_URL": redis_url,
        **env,
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "model_service"],
            cwd=ROOT,
            env={**os.environ, **settings},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until the process answers /readyz with 200; fail with its log if it exits or takes
    longer than START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while not _ready(url):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
