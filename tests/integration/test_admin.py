"""User and key administration through the gateway: the rules a security review checks."""

import json

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import admin_token, bearer, new_user

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(gateway: httpx.Client, stack: RunningStack) -> dict[str, str]:
    return bearer(admin_token(gateway, stack))


@pytest.mark.parametrize(
    "body", [{"password_hash": "x"}, {"scopes": ["models:read"], "is_admin": True}]
)
def test_patch_refuses_mass_assignment(
    gateway: httpx.Client, stack: RunningStack, admin: dict[str, str], body: dict[str, object]
) -> None:
    username, _ = new_user(gateway, stack, "mass")
    response = gateway.patch(f"/auth/users/{username}", json=body, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("method", "body"), [("DELETE", None), ("PATCH", {"disabled": True}), ("PATCH", {"scopes": []})]
)
def test_last_admin_cannot_be_removed(
    gateway: httpx.Client, admin: dict[str, str], method: str, body: dict[str, object] | None
) -> None:
    response = gateway.request(method, "/auth/users/admin", json=body, headers=admin)
    assert response.status_code == 409


def test_users_are_listed_in_pages(
    gateway: httpx.Client, stack: RunningStack, admin: dict[str, str]
) -> None:
    for _ in range(3):
        new_user(gateway, stack, "paged")
    first = gateway.get("/auth/users?limit=2&offset=0", headers=admin).json()
    second = gateway.get("/auth/users?limit=2&offset=2", headers=admin).json()
    assert len(first["items"]) == 2
    assert first["total"] >= 4
    names = [user["username"] for user in first["items"] + second["items"]]
    assert names == sorted(names)
    assert "password_hash" not in json.dumps(first)


def test_api_key_limits(gateway: httpx.Client, stack: RunningStack) -> None:
    _, token = new_user(gateway, stack, "keys", scopes=["models:read"])
    beyond = gateway.post(
        "/auth/api-keys", json={"name": "x", "scopes": ["models:admin"]}, headers=bearer(token)
    )
    assert beyond.status_code == 403
    for index in range(10):
        created = gateway.post("/auth/api-keys", json={"name": f"k{index}"}, headers=bearer(token))
        assert created.status_code == 201
    assert (
        gateway.post("/auth/api-keys", json={"name": "k11"}, headers=bearer(token)).status_code
        == 409
    )
    listed = gateway.get("/auth/api-keys", headers=bearer(token)).json()
    assert len(listed) == 10
    assert all("key" not in item for item in listed)
