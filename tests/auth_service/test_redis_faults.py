"""A hung or dead Redis never hangs a request: short timeouts, no silent retries."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auth_service.config import Settings
from auth_service.main import create_app
from servir_runtime.processes import free_port, redis_command, redis_pong
from tests.conftest import serve_in_process


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server this test may stop and kill."""
    port = free_port()
    process = subprocess.Popen(
        redis_command(port=port, data_dir=tmp_path), stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while not redis_pong(port):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield process, f"redis://127.0.0.1:{port}/0"
    os.kill(process.pid, signal.SIGCONT)
    process.kill()
    process.wait(timeout=10)


@pytest.mark.anyio
async def test_hung_redis_answers_not_ready_within_the_timeout(
    own_redis: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, url = own_redis
    settings = Settings(redis_url=url, redis_timeout_seconds=0.3, keys_dir=tmp_path / "keys")
    async with serve_in_process(create_app(settings)) as client:
        assert (await client.get("/readyz")).status_code == 200
        os.kill(process.pid, signal.SIGSTOP)
        started = time.monotonic()
        response = await client.get("/readyz")
        elapsed = time.monotonic() - started
        os.kill(process.pid, signal.SIGCONT)
        recovered = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "unreachable (TimeoutError)"
    assert elapsed < 1.0
    assert recovered.status_code == 200
