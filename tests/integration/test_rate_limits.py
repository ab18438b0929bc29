"""Rate limits on the real stack: Redis SIGKILLed → predictions still served, counted in
process; Redis back → the shared counts in Redis again within 5 s."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_runtime.stack import Stack
from tests.integration.conftest import copy_models, stack_env
from tests.integration.identity import bearer, login

pytestmark = pytest.mark.integration
IRIS = {"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                       "petal_width": 0.2}]}  # fmt: skip
KEY = "servir:ratelimit:default:600:admin"


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[Stack]:
    env = {
        **stack_env(Ed25519PrivateKey.generate()),
        "MODEL_MODELS_DIR": str(copy_models(demo_models, tmp_path_factory)),
        "GATEWAY_RATE_LIMIT_DEFAULT": "1000/600",
    }
    with Stack(data_dir=tmp_path_factory.mktemp("limits"), env=env) as stack:
        yield stack


def remaining(response: httpx.Response) -> int:
    match = re.fullmatch(r'"default";r=(\d+);t=\d+', response.headers["ratelimit"])
    assert match is not None
    return int(match[1])


def predict(gateway: httpx.Client, token: str) -> httpx.Response:
    return gateway.post("/models/iris/predict", json=IRIS, headers=bearer(token))


def test_redis_killed_predictions_flow_then_limits_are_shared_again(own_stack: Stack) -> None:
    store = redis.Redis(port=own_stack.redis_port)
    with httpx.Client(base_url=own_stack.gateway_url, timeout=10, trust_env=False) as gateway:
        token = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
        shared = predict(gateway, token)
        assert shared.status_code == 200
        assert remaining(shared) == 1000 - int(store.get(KEY) or 0)

        own_stack.kill("redis")
        during = [predict(gateway, token) for _ in range(20)]
        assert {answer.status_code for answer in during} == {200}
        assert all("ratelimit" in answer.headers for answer in during)
        ready = gateway.get("/readyz").json()
        assert ready["status"] == "degraded"
        assert "rate limits counted in process" in ready["checks"]["redis"]

        own_stack.restart_redis()
        back_at = time.monotonic()
        while True:
            answer = predict(gateway, token)
            assert answer.status_code == 200
            counted = int(store.get(KEY) or 0)
            if counted and remaining(answer) == 1000 - counted:
                break
            assert time.monotonic() - back_at < 5, "limits did not return to Redis within 5 s"
            time.sleep(0.1)
        assert gateway.get("/readyz").json()["status"] == "ready"
    # Counters never reach the append-only file (no fsync per request); identities do.
    aof = b"".join(path.read_bytes() for path in own_stack.data_dir.glob("redis/**/*.aof"))
    assert b"auth:user:admin" in aof
    assert b"servir:ratelimit" not in aof


def test_exact_arithmetic_over_real_sockets(own_stack: Stack) -> None:
    own_stack.restart_service(
        "gateway", env={"GATEWAY_RATE_LIMIT_DEFAULT": "5/2", "GATEWAY_RATE_LIMIT_TOKEN": "2/60"}
    )
    with httpx.Client(base_url=own_stack.gateway_url, timeout=10, trust_env=False) as gateway:
        token = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
        answers = [predict(gateway, token) for _ in range(6)]
        time.sleep(2.1)
        renewed = predict(gateway, token)
        second_login = login(gateway, "admin", DEV_ADMIN_PASSWORD)
        third_login = login(gateway, "admin", "wrong")
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert [remaining(answer) for answer in answers] == [4, 3, 2, 1, 0, 0]
    assert {answer.headers["ratelimit-policy"] for answer in answers} == {'"default";q=5;w=2'}
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert renewed.status_code == 200
    assert remaining(renewed) == 4
    assert second_login.status_code == 200
    assert second_login.headers["ratelimit"].startswith('"token";r=0;')
    assert third_login.status_code == 429
    assert third_login.json()["error"] == "invalid_request"
