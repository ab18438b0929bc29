"""Identity data survives `kill -9` of Redis: a stack of this module's own, whose processes
the tests own."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servir_stack import Stack
from tests.integration.conftest import stack_env
from tests.integration.identity import USER_PASSWORD, bearer, login, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("durable")
    with Stack(data_dir=data_dir, env=stack_env(Ed25519PrivateKey.generate())) as stack:
        yield stack


def test_users_and_keys_survive_redis_kill_9(own_stack: Stack) -> None:
    with httpx.Client(base_url=own_stack.gateway_url, timeout=10, trust_env=False) as gateway:
        admin = login(gateway, "admin", "servir-dev-admin-NOT-FOR-PRODUCTION").json()[
            "access_token"
        ]
        username = unique("durable")
        body = {"username": username, "password": USER_PASSWORD}
        assert gateway.post("/auth/users", json=body, headers=bearer(admin)).status_code == 201
        user = login(gateway, username, USER_PASSWORD).json()
        key = gateway.post(
            "/auth/api-keys", json={"name": "k"}, headers=bearer(user["access_token"])
        ).json()

        own_stack.kill("redis")
        own_stack.restart_redis()

        assert login(gateway, username, USER_PASSWORD).status_code == 200
        refreshed = gateway.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": user["refresh_token"]},
        )
        assert refreshed.status_code == 200
        listed = gateway.get(
            "/auth/api-keys", headers=bearer(refreshed.json()["access_token"])
        ).json()
        assert [item["id"] for item in listed] == [key["id"]]
        assert gateway.get("/v2", headers={"X-API-Key": key["key"]}).status_code == 200
