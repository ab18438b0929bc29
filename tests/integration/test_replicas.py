"""Two model-service processes over one store and one Redis, as `--scale model-service=2` runs
them: an upload or a delete through one replica reaches the other. The tests own both processes."""

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import INTERNAL
from tests.model_service.processes import spawn_model_service, wait_ready
from tests.model_service.test_repository import SETOSA, bundle_archive, bundle_files

pytestmark = pytest.mark.integration
FOLLOW_SECONDS = 2.0


def eventually_status(url: str, path: str, status: int) -> None:
    """Wait (at most FOLLOW_SECONDS) until an iris prediction at `path` answers `status`."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    body = {"instances": [SETOSA]}
    while httpx.post(f"{url}{path}", json=body, headers=INTERNAL).status_code != status:
        assert time.monotonic() < deadline, f"{url} did not follow in time"
        time.sleep(0.05)


@pytest.fixture
def replicas(demo_models: Path, redis_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two replica processes sharing a writable copy of the demo store."""
    store = tmp_path / "models"
    shutil.copytree(demo_models, store)
    logs = [tmp_path / f"replica-{i}.log" for i in range(2)]
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        started.extend(spawn_model_service(store, redis_url, log) for log in logs)
        for (process, url), log in zip(started, logs, strict=True):
            wait_ready(process, url, log)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=30)


def test_an_upload_and_a_delete_reach_the_other_replica(
    replicas: list[str], demo_models: Path
) -> None:
    first, second = replicas
    archive = bundle_archive(bundle_files(demo_models / "iris" / "1", "2"))
    headers = {**INTERNAL, "X-Servir-Principal": "alice"}
    files = {"bundle": ("iris-2.tar.gz", archive, "application/gzip")}
    created = httpx.post(f"{first}/models", files=files, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    eventually_status(second, "/models/iris/versions/2/predict", 200)

    deleted = httpx.delete(f"{second}/models/iris/versions/2", headers=headers)
    assert deleted.status_code == 204
    eventually_status(first, "/models/iris/versions/2/predict", 404)
