"""The stack end to end, through the gateway only."""

import time
import uuid

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import admin_token, bearer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin(stack: RunningStack) -> dict[str, str]:
    """The bootstrap admin's bearer header."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        return bearer(admin_token(client, stack))


def test_gateway_is_ready_with_every_check_ok(gateway: httpx.Client) -> None:
    response = gateway.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"redis": "ok", "auth-service": "ok", "model-service": "ok"},
    }


def test_gateway_is_live(gateway: httpx.Client) -> None:
    assert gateway.get("/livez").json() == {"status": "ok"}


def test_proxy_reaches_model_service(gateway: httpx.Client, admin: dict[str, str]) -> None:
    metadata = gateway.get("/v2", headers=admin)
    ready = gateway.get("/v2/health/ready")
    assert metadata.status_code == 200
    assert metadata.json()["name"] == "servir"
    assert ready.status_code == 200


def test_proxy_reaches_auth_service(gateway: httpx.Client, admin: dict[str, str]) -> None:
    # The gateway forwards every /auth/* path; this problem body is the auth-service's own.
    response = gateway.get("/auth/no-such-route", headers=admin)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == "/auth/no-such-route"


def test_unknown_path_is_404_problem_with_request_id(gateway: httpx.Client) -> None:
    response = gateway.get("/no/such/path")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["request_id"] == response.headers["x-request-id"]


def _wait_for_log(stack: RunningStack, service: str, needle: str) -> str | None:
    deadline = time.monotonic() + 5
    while (log := stack.log(service)) is not None and needle not in log:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return log


@pytest.mark.parametrize(
    ("path", "service"), [("/v2", "model-service"), ("/auth/x", "auth-service")]
)
def test_caller_request_id_comes_back_and_reaches_service(
    gateway: httpx.Client, stack: RunningStack, admin: dict[str, str], path: str, service: str
) -> None:
    request_id = f"it-{uuid.uuid4().hex}"
    response = gateway.get(path, headers={"X-Request-ID": request_id, **admin})
    assert response.headers["x-request-id"] == request_id
    if response.status_code >= 400:
        assert response.json()["request_id"] == request_id  # written by the service itself
    log = _wait_for_log(stack, service, request_id)
    if log is not None:
        assert f'"request_id":"{request_id}"' in log


def test_caller_cannot_forge_internal_headers(gateway: httpx.Client, admin: dict[str, str]) -> None:
    forged = {"X-Servir-Internal-Token": "guess", "X-Servir-Principal": "admin"}
    assert gateway.get("/v2", headers=forged).status_code == 401
    response = gateway.get("/auth/me", headers={**forged, "X-Servir-Principal": "someone", **admin})
    assert response.status_code == 200
    assert response.json()["username"] == "admin"


@pytest.mark.parametrize("path", ["/internal/introspect", "/auth/%2E%2E/internal/introspect"])
def test_internal_routes_are_not_public(gateway: httpx.Client, path: str) -> None:
    response = gateway.post(path, content=b"token=x")
    assert response.status_code == 404
