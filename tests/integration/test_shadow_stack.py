"""Shadow traffic on real processes (issue 15, item 2): the stack of this module's own (its
model-service's metrics are read directly, which a stack in containers does not offer), a
split that serves version 1 and copies every request to version 2, and the model-service
counting each copy compared and agreeing, while every caller gets version 1's answer."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import DEV_ADMIN_PASSWORD
from servir import Client
from servir_runtime.stack import Stack
from tests.integration.conftest import copy_models, stack_env
from tests.integration.test_traffic_split import SETOSA, push_two_versions

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[Stack]:
    env = {
        **stack_env(Ed25519PrivateKey.generate()),
        "MODEL_MODELS_DIR": str(copy_models(demo_models, tmp_path_factory)),
    }
    with Stack(data_dir=tmp_path_factory.mktemp("shadow"), env=env) as stack:
        yield stack


def test_every_copy_is_compared_and_agrees(
    own_stack: Stack, demo_models: Path, tmp_path: Path
) -> None:
    with Client(own_stack.gateway_url) as admin:
        token = admin.login("admin", DEV_ADMIN_PASSWORD).access_token
        name = push_two_versions(admin, demo_models, tmp_path)
        admin.set_traffic(name, {"1": 100}, shadow=("2", 1.0))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=own_stack.gateway_url, timeout=10, trust_env=False) as gateway:
        for _ in range(50):
            response = gateway.post(
                f"/models/{name}/predict", json={"instances": [SETOSA]}, headers=headers
            )
            assert response.status_code == 200, response.text
            assert response.json()["version"] == "1"
    # Prometheus writes labels in name order.
    compared = (
        f'servir_model_shadow_requests_total{{model="{name}",outcome="compared",version="2"}}'
    )
    agreed = f'servir_model_shadow_rows_total{{agreement="agree",model="{name}",version="2"}}'
    deadline = time.monotonic() + 10
    while f"{compared} 50.0" not in (text := httpx.get(f"{own_stack.model_url}/metrics").text):
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.05)
    assert f"{agreed} 50.0" in text
