"""Faults on a stack this module owns, broken only by signals to its processes and by a fault
proxy (tests/faultproxy.py) on the gateway's link to Redis; the limits are issue 7's.

- Redis killed, or hung (SIGSTOP): predictions keep flowing (rate limits counted in process),
  a revoked token is still refused, login answers 503 within 0.5 s, `/readyz` says why; all
  is back within 5 s of Redis. Login's bound is the auth-service's Redis timeout, set to
  0.3 s here (AUTH_REDIS_TIMEOUT_SECONDS; the default 0.5 s gives just over 0.5 s).
- The gateway cut off from Redis (blackhole): the same, and a revocation published meanwhile
  is applied once the link heals.
- auth-service SIGKILLed: valid JWTs and recently seen API keys keep working (a key not seen
  is 503, not 401); login answers 503 within 2 s.
- A model-service replica SIGKILLed under load and restarted: errors only while it is down,
  each answered within 1 s, none a 500; both replicas serve again within 10 s of the new
  process being ready (its start, mostly Python's imports, is not the gateway's to shorten).
- A slow model (k-nearest neighbours by brute force, Minkowski p=3, over 60,000 points: ~5 s
  of one core for 1,000 rows, 5 ms for one) → 504 within GATEWAY_READ_TIMEOUT_SECONDS (2 s
  here), while other models keep answering.
- The gateway SIGTERMed with 40 requests in flight (held by latency on its Redis link):
  every one completes, none is reset; then it exits 0 and new connections are refused.
"""

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sklearn.neighbors import KNeighborsClassifier

from auth_service.config import DEV_ADMIN_PASSWORD
from model_service.demo_models import write_bundle
from servir_runtime.stack import Stack
from tests.faultproxy import RunningFaultProxy, running_fault_proxy
from tests.integration.conftest import copy_models, stack_env
from tests.integration.identity import USER_PASSWORD, bearer, eventually_refused, login, unique
from tests.integration.load import IRIS, Load, served_predictions
from tests.integration.rawhttp import RawAnswer, raw_exchange
from tests.integration.test_rate_limits import remaining

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SLOW = "slow-knn"
SLOW_FEATURES = ["a", "b", "c", "d"]
READ_TIMEOUT = 2.0
AUTH_REDIS_TIMEOUT = 0.3
REPLICAS = ("model-service", "model-service-2")


def train_slow_model(store: Path) -> None:
    """A genuinely slow estimator: brute-force neighbours under a metric with no fast path."""
    rng = np.random.default_rng(7)
    points = rng.uniform(0, 10, (60_000, len(SLOW_FEATURES)))
    labels = np.where(points.sum(axis=1) > 20, "high", "low")
    estimator = KNeighborsClassifier(algorithm="brute", metric="minkowski", p=3).fit(points, labels)
    features = [{"name": name, "type": "float"} for name in SLOW_FEATURES]
    manifest = {"task": "classification", "features": features, "classes": ["high", "low"]}
    write_bundle(store, name=SLOW, estimator=estimator, manifest=manifest)


@dataclass
class Faulty:
    """The module's stack, and the proxy the gateway reaches Redis through."""

    stack: Stack
    redis_link: RunningFaultProxy

    @property
    def url(self) -> str:
        return self.stack.gateway_url


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[Faulty]:
    store = copy_models(demo_models, tmp_path_factory)
    train_slow_model(store)
    env = {
        **stack_env(Ed25519PrivateKey.generate()),
        "MODEL_MODELS_DIR": str(store),
        "AUTH_REDIS_TIMEOUT_SECONDS": str(AUTH_REDIS_TIMEOUT),
        "GATEWAY_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        # A key is asked about again after a second: the auth-service test below then shows
        # the stale-while-unreachable path, not the plain cache.
        "GATEWAY_API_KEY_CACHE_SECONDS": "1",
        # One core for the slow model's distance loops (OpenMP would take both).
        "OMP_NUM_THREADS": "1",
        # Every request counted in Redis as it comes (the default policy's exact mode): the
        # SIGTERM test holds its requests in flight by the Redis link's latency. The counting
        # in process between reports has its own tests (tests/gateway/test_local_limits.py).
        "GATEWAY_RATE_LIMIT_SYNC_MS": "0",
    }
    stack = Stack(data_dir=tmp_path_factory.mktemp("faults"), env=env, model_replicas=2)
    with running_fault_proxy(stack.redis_port) as link:
        stack.env["GATEWAY_REDIS_URL"] = f"redis://127.0.0.1:{link.port}/0"
        with stack:
            yield Faulty(stack, link)


@pytest.fixture
def healthy(faulty: Faulty) -> Faulty:
    """The stack as the module started it, whatever the tests before left: every process
    running (restarted if need be), Redis not stopped, its link passing, and ready."""
    stack = faulty.stack
    faulty.redis_link.set_mode("pass")
    for process in list(stack.processes):
        if process.popen.poll() is None:
            os.kill(process.popen.pid, signal.SIGCONT)  # a no-op unless it was stopped
        elif process.name == "redis":
            stack.restart_redis()
        else:
            stack.restart_service(process.name)
    wait_until_ready(faulty.url)
    return faulty


def wait_until_ready(url: str, *, within: float = 15) -> float:
    """Seconds until the gateway's /readyz says `ready`."""
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=5, trust_env=False) as client:
        while True:
            try:
                if client.get("/readyz").json()["status"] == "ready":
                    return time.monotonic() - started
            except (httpx.TransportError, ValueError):
                pass
            assert time.monotonic() - started < within, "the stack did not become ready"
            time.sleep(0.05)


def timed(call: Any, *args: Any, **kwargs: Any) -> tuple[httpx.Response, float]:
    """`call(*args, **kwargs)` and how long it took."""
    started = time.monotonic()
    response: httpx.Response = call(*args, **kwargs)
    return response, time.monotonic() - started


def predict(gateway: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return gateway.post("/models/iris/predict", json=IRIS, headers=headers)


@dataclass
class People:
    """A user with one live and one revoked access token, and an API key seen by the gateway."""

    username: str
    token: str
    revoked: str
    api_key: str


def people(gateway: httpx.Client, admin_password: str) -> People:
    admin = bearer(login(gateway, "admin", admin_password).json()["access_token"])
    username = unique("faulty")
    body = {"username": username, "password": USER_PASSWORD}
    assert gateway.post("/auth/users", json=body, headers=admin).status_code == 201
    token, revoked = (
        login(gateway, username, USER_PASSWORD).json()["access_token"] for _ in range(2)
    )
    key = gateway.post("/auth/api-keys", json={"name": "k"}, headers=bearer(token)).json()["key"]
    assert predict(gateway, {"X-API-Key": key}).status_code == 200  # seen by the gateway
    assert gateway.post("/auth/revoke", data={"token": revoked}).status_code == 200
    eventually_refused(lambda: predict(gateway, bearer(revoked)))
    return People(username, token, revoked, key)


def assert_login_unavailable(gateway: httpx.Client, username: str, within: float) -> float:
    """Three logins, each 503 in RFC 6749's form within `within` s; the slowest time."""
    slowest = 0.0
    for _ in range(3):
        response, seconds = timed(login, gateway, username, USER_PASSWORD)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "temporarily_unavailable"
        assert response.headers["retry-after"]
        slowest = max(slowest, seconds)
    assert slowest < within, f"login took {slowest:.3f} s"
    return slowest


def assert_serving_without_redis(gateway: httpx.Client, who: People) -> float:
    """Predictions flow (token and key), the revoked token is refused; the slowest answer."""
    slowest = 0.0
    for headers in [bearer(who.token), {"X-API-Key": who.api_key}] * 10:
        response, seconds = timed(predict, gateway, headers)
        assert response.status_code == 200, response.text
        assert "ratelimit" in response.headers
        slowest = max(slowest, seconds)
    refused = predict(gateway, bearer(who.revoked))
    assert refused.status_code == 401
    assert slowest < 1.0, f"a prediction took {slowest:.3f} s"
    return slowest


def readiness_says(gateway: httpx.Client, *reasons: str) -> None:
    ready = gateway.get("/readyz")
    assert ready.status_code == 200, ready.text  # degraded still serves
    body = ready.json()
    assert body["status"] == "degraded", body
    assert all(reason in body["checks"]["redis"] for reason in reasons), body


def quota(response: httpx.Response) -> int:
    match = re.fullmatch(r'"default";q=(\d+);w=\d+', response.headers["ratelimit-policy"])
    assert match is not None
    return int(match[1])


def recovery_seconds(faulty: Faulty, who: People, *, back_at: float) -> float:
    """Seconds from `back_at` until login works, /readyz is ready and limits count in Redis."""
    store = redis.Redis(port=faulty.stack.redis_port)
    counters = f"servir:ratelimit:default:*:{who.username}"  # the window is in the key
    with httpx.Client(base_url=faulty.url, timeout=5, trust_env=False) as gateway:
        while True:
            logged_in = login(gateway, who.username, USER_PASSWORD).status_code == 200
            ready = gateway.get("/readyz").json()["status"] == "ready"
            answer = predict(gateway, bearer(who.token))
            assert answer.status_code == 200
            counted = sum(int(store.get(key) or 0) for key in store.keys(counters))
            if logged_in and ready and counted and remaining(answer) == quota(answer) - counted:
                break
            assert time.monotonic() - back_at < 5, "not recovered within 5 s of Redis"
            time.sleep(0.1)
        back = time.monotonic() - back_at
        assert predict(gateway, bearer(who.revoked)).status_code == 401
    return back


def test_redis_killed_serving_goes_on_and_login_fails_fast(healthy: Faulty) -> None:
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        who = people(gateway, DEV_ADMIN_PASSWORD)
        healthy.stack.kill("redis")
        assert_serving_without_redis(gateway, who)
        login_seconds = assert_login_unavailable(gateway, who.username, within=0.5)
        readiness_says(gateway, "unreachable", "rate limits counted in process")
        healthy.stack.restart_redis()
        back = recovery_seconds(healthy, who, back_at=time.monotonic())
    print(f"redis killed: login 503 in {login_seconds:.3f} s; recovered in {back:.2f} s")


def test_redis_hung_serving_goes_on_and_login_fails_fast(healthy: Faulty) -> None:
    redis_pid = healthy.stack.process("redis").popen.pid
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        who = people(gateway, DEV_ADMIN_PASSWORD)
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            slowest = assert_serving_without_redis(gateway, who)
            login_seconds = assert_login_unavailable(gateway, who.username, within=0.5)
            readiness_says(gateway, "unreachable (TimeoutError)", "rate limits counted in process")
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        back = recovery_seconds(healthy, who, back_at=time.monotonic())
    print(
        f"redis hung: slowest prediction {slowest:.3f} s, login 503 in {login_seconds:.3f} s; "
        f"recovered in {back:.2f} s"
    )


def test_gateway_cut_off_from_redis_serves_and_catches_up(healthy: Faulty) -> None:
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        who = people(gateway, DEV_ADMIN_PASSWORD)
        later = login(gateway, who.username, USER_PASSWORD).json()["access_token"]
        healthy.redis_link.set_mode("blackhole")
        try:
            assert_serving_without_redis(gateway, who)
            # The auth-service still reaches Redis: logins work; so does revoking, though
            # the gateway cannot hear of it until the link heals.
            assert login(gateway, who.username, USER_PASSWORD).status_code == 200
            assert gateway.post("/auth/revoke", data={"token": later}).status_code == 200
            readiness_says(gateway, "unreachable (TimeoutError)", "rate limits counted in process")
        finally:
            healthy.redis_link.set_mode("pass")
        healed_at = time.monotonic()
        refused_after = eventually_refused(lambda: predict(gateway, bearer(later)), within=5)
        back = recovery_seconds(healthy, who, back_at=healed_at)
    print(f"gateway cut off: revocation applied {refused_after:.2f} s after healing; {back:.2f} s")


def test_auth_service_down_tokens_and_seen_keys_work_login_fails_fast(healthy: Faulty) -> None:
    stack = healthy.stack
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        who = people(gateway, DEV_ADMIN_PASSWORD)
        unseen = gateway.post(
            "/auth/api-keys", json={"name": "unseen"}, headers=bearer(who.token)
        ).json()["key"]
        stack.kill("auth-service")
        try:
            time.sleep(1.2)  # past GATEWAY_API_KEY_CACHE_SECONDS: keys must be asked about
            for headers in [bearer(who.token), {"X-API-Key": who.api_key}] * 10:
                assert predict(gateway, headers).status_code == 200
            assert predict(gateway, bearer(who.revoked)).status_code == 401
            unchecked = predict(gateway, {"X-API-Key": unseen})
            assert unchecked.status_code == 503  # cannot be checked: not "invalid"
            assert unchecked.headers["retry-after"]
            login_seconds = assert_login_unavailable(gateway, who.username, within=2.0)
        finally:
            stack.restart_service("auth-service")
        assert login(gateway, who.username, USER_PASSWORD).status_code == 200
        assert predict(gateway, {"X-API-Key": unseen}).status_code == 200
    print(f"auth-service down: login 503 in {login_seconds:.3f} s")


def test_replica_killed_under_load_and_restarted(healthy: Faulty) -> None:
    stack = healthy.stack
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        token = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()
        with Load(healthy.url, {"admin": bearer(token["access_token"])}, threads=2) as load:
            time.sleep(1.0)
            stack.kill("model-service-2")
            killed_at = time.monotonic()
            time.sleep(1.5)
            restarted_at = time.monotonic()
            stack.restart_service("model-service-2")
            up_at = time.monotonic()
            before = served_predictions(stack, "model-service-2")
            while (
                served_predictions(stack, "model-service-2") <= before
                or gateway.get("/readyz").json()["status"] != "ready"
            ):
                assert time.monotonic() - up_at < 10, "not serving again within 10 s"
                time.sleep(0.1)
            recovered_at = time.monotonic()
            time.sleep(1.0)
    answers = load.answers
    failed = [a for a in answers if a.status != 200]
    assert len(answers) > 100
    assert {a.status for a in failed} <= {502, 503}, failed
    assert all(killed_at - 0.1 <= a.at <= up_at for a in failed), failed  # only while down
    assert all(a.seconds < 1.0 for a in failed), failed
    assert all(a.status == 200 for a in answers if a.started > recovered_at)
    slowest = max((a.seconds for a in failed), default=0.0)
    print(
        f"replica: {len(failed)} errors of {len(answers)}, slowest error {slowest:.3f} s; "
        f"the process took {up_at - restarted_at:.2f} s to start, served again "
        f"{recovered_at - up_at:.2f} s after it was ready"
    )


def slow_rows(count: int) -> dict[str, Any]:
    rng = np.random.default_rng(count)
    rows = rng.uniform(0, 10, (count, len(SLOW_FEATURES))).round(3)
    return {"instances": [dict(zip(SLOW_FEATURES, map(float, row), strict=True)) for row in rows]}


def slow_batch_done(stack: Stack) -> bool:
    """Whether a replica has logged finishing a slow prediction (after the gateway's 504)."""
    path = f"/models/{SLOW}/predict"
    for name in REPLICAS:
        for line in (stack.log_dir / f"{name}.log").read_text().splitlines():
            if path in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("path") == path and entry["duration_ms"] > READ_TIMEOUT * 1000:
                    return True
    return False


def test_slow_model_times_out_504_and_other_models_keep_answering(healthy: Faulty) -> None:
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        admin = bearer(login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"])
        quick = gateway.post(f"/models/{SLOW}/predict", json=slow_rows(1), headers=admin)
        assert quick.status_code == 200  # one row is quick; a thousand take seconds
        slow: list[tuple[httpx.Response, float]] = []
        thousand = slow_rows(1000)
        asked = threading.Thread(
            target=lambda: slow.append(
                timed(gateway.post, f"/models/{SLOW}/predict", json=thousand, headers=admin)
            )
        )
        asked.start()
        others: list[tuple[httpx.Response, float]] = []
        started = time.monotonic()
        with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as other:
            # Past the 504 the replica computes on: other models are asked until it is done.
            while asked.is_alive() or not slow_batch_done(healthy.stack):
                others.append(timed(other.post, "/models/iris/predict", json=IRIS, headers=admin))
                others.append(timed(other.get, "/models/breast-cancer", headers=admin))
                assert time.monotonic() - started < 20, "the slow batch never finished"
                time.sleep(0.02)  # steady traffic, not a second core's worth
        asked.join(timeout=30)
    ((response, seconds),) = slow
    assert response.status_code == 504, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert READ_TIMEOUT <= seconds < READ_TIMEOUT + 0.5
    assert {r.status_code for r, _ in others} == {200}
    slowest = max(s for _, s in others)
    assert slowest < 0.5, f"another model took {slowest:.3f} s"
    print(
        f"slow model: 504 in {seconds:.3f} s; {len(others)} calls to other models while it "
        f"computed, slowest {slowest:.3f} s"
    )


def test_sigterm_under_load_completes_accepted_requests_without_a_reset(healthy: Faulty) -> None:
    """40 clients each send one prediction on a connection of their own while the gateway's
    link to Redis has 0.2 s of latency each way: every request waits in the gateway for its
    rate-limit count, so all are in flight when SIGTERM comes. (A request on a kept-alive
    connection that crosses the server's close is the HTTP/1.1 race clients retry, and new
    connections are refused: neither is what this measures.)"""
    stack = healthy.stack
    with httpx.Client(base_url=healthy.url, timeout=10, trust_env=False) as gateway:
        token = login(gateway, "admin", DEV_ADMIN_PASSWORD).json()["access_token"]
    body = json.dumps(IRIS).encode()
    request = (
        f"POST /models/iris/predict HTTP/1.1\r\nHost: servir\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    clients = 40
    answers: list[RawAnswer] = []
    sent = threading.Semaphore(0)
    address = ("127.0.0.1", stack.gateway_port)

    def one() -> None:
        answers.append(raw_exchange(address, request, timeout=30, on_sent=sent.release))

    threads = [threading.Thread(target=one) for _ in range(clients)]
    gateway_process = stack.process("gateway").popen
    healthy.redis_link.set_mode("latency", latency=0.2)
    for thread in threads:
        thread.start()
    for _ in range(clients):
        assert sent.acquire(timeout=10)
    time.sleep(0.1)  # every connection accepted, every request waiting on its count
    signalled = time.monotonic()
    gateway_process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=30)
    code = gateway_process.wait(timeout=20)
    exited = time.monotonic() - signalled
    after = raw_exchange(address, request, timeout=5)
    # The next test's fixture starts the gateway again (and sets the link back to pass).
    assert len(answers) == clients
    assert [a.ended for a in answers] == ["answered"] * clients, [a.ended for a in answers]
    assert {a.status for a in answers} == {200}
    # Answered while the gateway drained: it closes those connections after the answer.
    in_flight = [a for a in answers if a.headers.get("connection") == "close"]
    assert len(in_flight) >= clients * 3 // 4, f"only {len(in_flight)} were in flight"
    assert code == 0
    assert after.ended == "refused"
    print(
        f"SIGTERM: {len(in_flight)} of {clients} requests in flight completed, none reset; "
        f"exit 0 after {exited:.2f} s"
    )
