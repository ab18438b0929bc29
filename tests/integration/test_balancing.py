"""Two model-service replicas behind the gateway: load spreads over both; one SIGKILLed under
load → ejected, and no request fails once it is; none ever gets a 500; it comes back."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_runtime.stack import Stack
from tests.integration.conftest import copy_models, stack_env
from tests.integration.identity import bearer, login
from tests.integration.load import IRIS, Load, served_predictions

pytestmark = pytest.mark.integration
EJECT_SECONDS = 1.0


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[Stack]:
    env = {
        **stack_env(Ed25519PrivateKey.generate()),
        "MODEL_MODELS_DIR": str(copy_models(demo_models, tmp_path_factory)),
        "GATEWAY_UPSTREAM_EJECT_SECONDS": str(EJECT_SECONDS),
    }
    data_dir = tmp_path_factory.mktemp("balancing")
    with Stack(data_dir=data_dir, env=env, model_replicas=2) as stack:
        yield stack


def test_load_spreads_and_a_killed_replica_costs_no_request_once_ejected(
    two_replicas: Stack,
) -> None:
    stack = two_replicas
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as gateway:
        token = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
        before = {n: served_predictions(stack, n) for n in ("model-service", "model-service-2")}
        with Load(stack.gateway_url, {"admin": bearer(token)}) as load:
            time.sleep(1.5)
            stack.kill("model-service-2")
            killed_at = time.monotonic()
            time.sleep(2.0)
        served = {n: served_predictions(stack, n) - before[n] for n in before}
        assert min(served.values()) > 20, served  # both replicas took their share

        statuses = [answer.status for answer in load.answers]
        assert 500 not in statuses
        assert len(statuses) > 100
        after_ejection = [a.status for a in load.answers if a.at > killed_at + 0.5]
        assert after_ejection
        assert set(after_ejection) == {200}
        failed = [s for s in statuses if s != 200]
        assert set(failed) <= {502, 503}, failed  # only requests in flight on the dead one

        metrics = httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics").text
        lines = [line for line in metrics.splitlines() if line.startswith("servir_gateway_")]
        predicted = 'requests_total{method="POST",route="/models/{name}/predict",status="200"}'
        dead = f'replica_ejected{{replica="127.0.0.1:{stack.extra_model_ports[0]}"'
        assert any(predicted in line for line in lines), lines
        assert any(line.startswith("servir_gateway_upstream_retries_total{") for line in lines)
        assert any(dead in line and line.endswith(" 1.0") for line in lines), lines
        assert gateway.get("/metrics").status_code == 404  # never on the public port

        ready = gateway.get("/readyz").json()
        assert ready["status"] == "degraded"
        assert ready["checks"]["model-service"] == "degraded"

        stack.restart_service("model-service-2")
        time.sleep(EJECT_SECONDS + 0.5)
        back = served_predictions(stack, "model-service-2")
        for _ in range(40):
            answer = gateway.post("/models/iris/predict", json=IRIS, headers=bearer(token))
            assert answer.status_code == 200
        assert served_predictions(stack, "model-service-2") > back
