"""Durability on a stack of this module's own: 1,000 users and their API keys survive Redis
SIGKILLed and restarted on the same append-only file (`appendfsync always`); a user deleted
while their requests are in flight is refused from then on.

What it costs, and so what is checked how. Creating a user hashes its password with argon2id
at OWASP's parameters, ~0.1 s of one core here: the 1,000 are created by four threads at once
(about a minute on two cores). Each user's API key is created with an access token minted with
the stack's own signing key (the token the auth-service would issue), sparing 1,000 argon2
logins that would prove nothing more. After the restart:
- every one of the 1,000 API keys authenticates through the gateway with its key cache off
  (GATEWAY_API_KEY_CACHE_SECONDS=0 and _STALE_SECONDS=0), so each is introspected afresh,
  reading the key and its owner back from Redis;
- 50 users drawn at random log in with their passwords (argon2 verifies: all 1,000 would add
  ~100 s of CPU for the same records);
- the user list counts them all.
"""

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_runtime.stack import Stack
from tests.integration.conftest import copy_models, stack_env
from tests.integration.identity import USER_PASSWORD, bearer, claims_for, login, signed, unique
from tests.integration.load import Load

pytestmark = pytest.mark.integration

USERS = 1000
SAMPLE = 50
WORKERS = 4
KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[Stack]:
    env = {
        **stack_env(KEY),
        "MODEL_MODELS_DIR": str(copy_models(demo_models, tmp_path_factory)),
        "GATEWAY_API_KEY_CACHE_SECONDS": "0",
        "GATEWAY_API_KEY_STALE_SECONDS": "0",
    }
    with Stack(data_dir=tmp_path_factory.mktemp("durability"), env=env) as stack:
        yield stack


@dataclass(frozen=True)
class Account:
    username: str
    api_key: str


def client(stack: Stack) -> httpx.Client:
    limits = httpx.Limits(max_connections=WORKERS * 2)
    return httpx.Client(base_url=stack.gateway_url, timeout=30, trust_env=False, limits=limits)


def create_account(gateway: httpx.Client, admin: dict[str, str], kid: str, name: str) -> Account:
    """A user (one argon2 hash) and an API key made with that user's own access token."""
    body = {"username": name, "password": USER_PASSWORD}
    created = gateway.post("/auth/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    token = signed(KEY, kid, claims_for(name))
    key = gateway.post("/auth/api-keys", json={"name": "durable"}, headers=bearer(token))
    assert key.status_code == 201, key.text
    return Account(name, key.json()["key"])


def authenticates(gateway: httpx.Client, account: Account) -> bool:
    """The key is active and names its owner (GET /auth/me answers for the key's owner)."""
    response = gateway.get("/auth/me", headers={"X-API-Key": account.api_key})
    return response.status_code == 200 and response.json()["username"] == account.username


@pytest.mark.timeout(240)
def test_a_thousand_users_and_keys_survive_redis_kill_9(durable: Stack) -> None:
    prefix = unique("durable")
    with client(durable) as gateway, ThreadPoolExecutor(WORKERS) as pool:
        admin = bearer(login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"])
        kid = gateway.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
        started = time.monotonic()
        accounts = list(
            pool.map(
                lambda i: create_account(gateway, admin, kid, f"{prefix}-{i:04d}"), range(USERS)
            )
        )
        created_in = time.monotonic() - started

        durable.kill("redis")
        durable.restart_redis()

        started = time.monotonic()
        refused = [a.username for a, ok in zip(accounts, pool.map(
            lambda a: authenticates(gateway, a), accounts), strict=True) if not ok]  # fmt: skip
        checked_in = time.monotonic() - started
        assert refused == [], f"{len(refused)} keys no longer authenticate: {refused[:5]}"

        sample = random.Random(prefix).sample(accounts, SAMPLE)
        logins = list(pool.map(lambda a: login(gateway, a.username, USER_PASSWORD), sample))
        assert [r.status_code for r in logins] == [200] * SAMPLE
        page = gateway.get("/auth/users", params={"limit": 1}, headers=admin).json()
        assert page["total"] >= USERS + 1  # and the admin
    print(
        f"durability: {USERS} users and keys created in {created_in:.1f} s; after kill -9 "
        f"all {USERS} keys checked in {checked_in:.1f} s, {SAMPLE} password logins"
    )


def test_a_user_deleted_mid_traffic_is_refused_from_then_on(durable: Stack) -> None:
    with client(durable) as gateway:
        admin = bearer(login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"])
        username = unique("doomed")
        body = {"username": username, "password": USER_PASSWORD}
        assert gateway.post("/auth/users", json=body, headers=admin).status_code == 201
        token = login(gateway, username, USER_PASSWORD).json()["access_token"]
        key = gateway.post("/auth/api-keys", json={"name": "k"}, headers=bearer(token)).json()
        credentials = {"token": bearer(token), "key": {"X-API-Key": key["key"]}}
        with Load(durable.gateway_url, credentials, threads=4) as load:
            time.sleep(1.0)
            asked_at = time.monotonic()
            deleted = gateway.delete(f"/auth/users/{username}", headers=admin)
            deleted_at = time.monotonic()
            time.sleep(2.0)
        assert deleted.status_code == 204
        after = login(gateway, username, USER_PASSWORD)
    answers = load.answers
    assert {a.status for a in answers} <= {200, 401}, {a.status for a in answers}
    for name in credentials:
        mine = sorted((a for a in answers if a.credential == name), key=lambda a: a.started)
        assert any(a.status == 200 for a in mine if a.started < asked_at)  # it worked before
        first_refusal = next(a.started for a in mine if a.status == 401)
        assert all(a.status == 401 for a in mine if a.started >= first_refusal), name
        # docs/api.md: revocations reach the gateway within 1 s.
        assert all(a.status == 401 for a in mine if a.started >= deleted_at + 1.0), name
        last_served = max((a.started for a in mine if a.status == 200), default=asked_at)
        print(f"deleted user, {name}: last request served began {last_served - deleted_at:+.3f} s "
              f"after the DELETE returned")  # fmt: skip
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
