"""`docker compose up --scale model-service=2` behind the gateway: predictions sent to the one
public door are served by both replicas. Only `make e2e` runs this: scripts/e2e.sh scales the
containerized stack and names its compose command in SERVIR_E2E_COMPOSE. test_balancing.py
proves the balancing itself over local processes."""

import json
import os
import shlex
import subprocess
import time
import uuid

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import bearer, new_user

COMPOSE = shlex.split(os.environ.get("SERVIR_E2E_COMPOSE", ""))
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not COMPOSE, reason="make e2e runs it against scaled containers"),
]
SERVICE = "model-service"
PATH = "/models/iris/predict"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# The gateway finds a new replica when it re-resolves the service name (every 5 s by default).
SPREAD_SECONDS = 30.0


def compose(*args: str) -> str:
    """Run the stack's compose command; its output."""
    command = [*COMPOSE, *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def served_by_replica(request_ids: set[str]) -> dict[str, set[str]]:
    """Which of `request_ids` each replica logged as a successful prediction (every request is
    logged in e2e), keyed by compose's log prefix, one per replica."""
    served: dict[str, set[str]] = {}
    for line in compose("logs", "--no-color", SERVICE).splitlines():
        replica, _, entry = line.partition("|")
        if not entry.strip().startswith("{"):
            continue
        record = json.loads(entry)
        ours = record.get("request_id") in request_ids
        if ours and record.get("path") == PATH and record.get("status") == 200:
            served.setdefault(replica.strip(), set()).add(record["request_id"])
    return served


def test_both_replicas_serve_predictions_through_the_gateway(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    replicas = compose("ps", "--quiet", SERVICE).split()
    assert len(replicas) == 2, f"expected two running {SERVICE} replicas, got {replicas}"
    headers = bearer(new_user(gateway, stack, "scaled")[1])
    sent: set[str] = set()
    served: dict[str, set[str]] = {}
    deadline = time.monotonic() + SPREAD_SECONDS
    while len(served) < len(replicas):
        assert time.monotonic() < deadline, f"not every replica served: {served}"
        for _ in range(10):
            request_id = f"scaled-{uuid.uuid4().hex}"
            response = gateway.post(
                PATH, json={"instances": [SETOSA]}, headers={**headers, "X-Request-ID": request_id}
            )
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == ["setosa"]
            sent.add(request_id)
        time.sleep(0.5)
        served = served_by_replica(sent)
