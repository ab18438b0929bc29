"""Per-client-IP limits on the real stack, over real sockets from other loopback addresses:
public writes (`/auth/revoke`) and failed authentication, while 127.0.0.1 keeps working; and
malformed API keys never reach the auth-service."""

import json
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_runtime.stack import Stack
from tests.integration.conftest import stack_env
from tests.integration.identity import bearer, login

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
INTROSPECT = "/internal/introspect"


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **stack_env(Ed25519PrivateKey.generate()),
        "GATEWAY_RATE_LIMIT_PUBLIC": "3/60",
        "GATEWAY_RATE_LIMIT_AUTH_FAILURES": "3/60",
    }
    with Stack(data_dir=tmp_path_factory.mktemp("ip-limits"), env=env) as stack:
        yield stack


def client(stack: Stack, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=stack.gateway_url, transport=transport, timeout=10)


def introspections(stack: Stack) -> int:
    """How many introspection calls the auth-service has logged (every request is logged)."""
    text = (stack.log_dir / "auth-service.log").read_text(encoding="utf-8", errors="replace")
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return sum(1 for entry in entries if entry.get("path") == INTROSPECT)


def test_revoke_is_limited_per_address_and_others_are_unaffected(own_stack: Stack) -> None:
    with client(own_stack, "127.0.0.2") as attacker, client(own_stack, "127.0.0.1") as user:
        answers = [attacker.post("/auth/revoke", data={"token": "x"}) for _ in range(4)]
        bystander = user.post("/auth/revoke", data={"token": "x"})
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["ratelimit-policy"] == '"public";q=3;w=60'
    assert int(refused.headers["retry-after"]) >= 1
    assert bystander.status_code == 200


def test_failed_authentication_blocks_one_address_and_spares_the_auth_service(
    own_stack: Stack,
) -> None:
    with client(own_stack, "127.0.0.3") as attacker, client(own_stack, "127.0.0.1") as user:
        token = login(user, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
        key = user.post("/auth/api-keys", json={"name": "k"}, headers=bearer(token)).json()["key"]
        assert user.get("/models", headers={"X-API-Key": key}).status_code == 200
        asked = introspections(own_stack)
        malformed = ["srv_short", "sk_" + "a" * 40, key + "x", key[:-1] + "="]
        failed = [attacker.get("/models", headers={"X-API-Key": k}) for k in malformed]
        fresh = login(user, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
        blocked = attacker.get("/models", headers=bearer(fresh))
        user_junk = user.get("/models", headers={"X-API-Key": "srv_short"})
        user_key = user.get("/models", headers={"X-API-Key": key})
        user_token = user.get("/models", headers=bearer(fresh))
        assert introspections(own_stack) == asked  # no malformed key reached the auth-service
    assert [answer.status_code for answer in failed] == [401, 401, 401, 429]
    assert failed[3].headers["ratelimit-policy"] == '"auth-failures";q=3;w=60'
    assert blocked.status_code == 429  # a good but never-seen token is not even read
    assert (user_junk.status_code, user_key.status_code, user_token.status_code) == (401, 200, 200)
