"""A stack of this module's own, whose processes and logs the tests own: identity data
survives `kill -9` of Redis; signing keys rotate and retire across auth-service restarts;
admin actions leave audit lines in the auth-service's log."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import DEV_ADMIN_PASSWORD
from auth_service.signing import SigningKey
from servir_runtime.stack import Stack
from tests.integration.conftest import stack_env
from tests.integration.identity import USER_PASSWORD, bearer, eventually_refused, login, unique

pytestmark = pytest.mark.integration


FIRST_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("restarts")
    with Stack(data_dir=data_dir, env=stack_env(FIRST_KEY)) as stack:
        yield stack


def _answers(gateway: httpx.Client, token: str) -> int:
    return gateway.get("/v2", headers=bearer(token)).status_code


def test_signing_keys_rotate_and_retired_keys_void_their_tokens(own_stack: Stack) -> None:
    first_kid = SigningKey.from_private(FIRST_KEY).kid
    second = SigningKey.from_private(Ed25519PrivateKey.generate())
    (own_stack.data_dir / "keys").mkdir(exist_ok=True)
    (own_stack.data_dir / "keys" / f"{second.kid}.pem").write_bytes(second.pem())
    with httpx.Client(base_url=own_stack.gateway_url, timeout=10, trust_env=False) as gateway:
        old = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]

        own_stack.restart_service("auth-service", env={"AUTH_ACTIVE_KEY_ID": second.kid})
        kids = [key["kid"] for key in gateway.get("/.well-known/jwks.json").json()["keys"]]
        assert kids == [second.kid, first_kid]
        new = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
        assert jwt.get_unverified_header(new)["kid"] == second.kid
        assert (_answers(gateway, old), _answers(gateway, new)) == (200, 200)

        retire = {"AUTH_ACTIVE_KEY_ID": second.kid, "AUTH_RETIRED_KEY_IDS": f'["{first_kid}"]'}
        own_stack.restart_service("auth-service", env=retire)
        assert [key["kid"] for key in gateway.get("/.well-known/jwks.json").json()["keys"]] == [
            second.kid
        ]
        eventually_refused(lambda: gateway.get("/v2", headers=bearer(old)))
        assert _answers(gateway, new) == 200


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


def test_admin_actions_are_audited_with_the_request_id(own_stack: Stack) -> None:
    username = unique("audited")
    with httpx.Client(base_url=own_stack.gateway_url, timeout=10, trust_env=False) as gateway:
        admin = bearer(login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"])
        body = {"username": username, "password": USER_PASSWORD}
        gateway.post(
            "/auth/users", json=body, headers={**admin, "X-Request-ID": f"audit-{username}"}
        )
    log_path = own_stack.log_dir / "auth-service.log"
    deadline = time.monotonic() + 5
    while f"audit-{username}" not in (log := log_path.read_text()):
        assert time.monotonic() < deadline, "no audit line within 5 s"
        time.sleep(0.05)
    line = next(
        json.loads(entry)
        for entry in log.splitlines()
        if '"msg":"audit"' in entry and username in entry
    )
    assert (line["actor"], line["action"], line["target"]) == ("admin", "user.create", username)
    assert line["request_id"] == f"audit-{username}"
    assert isinstance(line["at"], float)
