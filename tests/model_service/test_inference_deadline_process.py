"""The inference deadline in a real model-service process: one model hangs, the others serve,
/readyz says degraded, and SIGTERM still ends the process within its shutdown grace."""

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import INTERNAL
from tests.model_service.hanging import TRIGGER, hanging_bundle
from tests.model_service.processes import spawn_model_service, wait_ready
from tests.model_service.test_predict import SETOSA

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
GRACE_SECONDS = 2


@pytest.fixture
def service(
    demo_models: Path, redis_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A model-service process with the demo models and `hang`, one worker thread."""
    store = tmp_path / "models"
    shutil.copytree(demo_models, store)
    hanging_bundle(store)
    log = tmp_path / "model-service.log"
    process, url = spawn_model_service(
        store,
        redis_url,
        log,
        MODEL_ALLOW_PICKLE="true",
        # The fault-injection estimator is no type Servir validates: the operator lists it.
        MODEL_UNVALIDATED_TYPES='["tests.model_service.hanging.HangsOnTrigger"]',
        MODEL_INFERENCE_THREADS="1",
        MODEL_INFERENCE_TIMEOUT_SECONDS="1",
        MODEL_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
    )
    try:
        wait_ready(process, url, log)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_a_hung_model_is_503_the_others_serve_and_sigterm_still_ends_the_process(
    service: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = service
    with httpx.Client(base_url=url, headers=INTERNAL, timeout=30) as client:
        hung = client.post("/models/hang/predict", json={"instances": [{"x": TRIGGER}]})
        assert hung.status_code == 503, hung.text
        assert hung.headers["content-type"] == "application/problem+json"
        assert "retry-after" in hung.headers
        iris = client.post("/models/iris/predict", json={"instances": [SETOSA]})
        assert iris.status_code == 200, iris.text
        again = client.post("/models/hang/predict", json={"instances": [{"x": 1.0}]})
        assert again.status_code == 503
        ready = client.get("/readyz").json()
    assert ready["status"] == "degraded"
    assert "deadline" in ready["models"]["hang/1"]
    process.send_signal(signal.SIGTERM)
    # Bounded by the grace plus start-up slack of the interpreter's exit; a hang fails here.
    assert process.wait(timeout=GRACE_SECONDS + 15) == 0
