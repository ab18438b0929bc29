"""Upstream health: the circuit breaker per upstream (opens after repeated failures, refuses at
once, a half-open probe closes it again); replicas from a URL list or a resolved host name share
the load, and a dead one is skipped."""

import asyncio
import time

import pytest

from gateway.deps import gateway_state
from gateway.upstreams.breaker import Breaker, CircuitOpen
from tests.gateway.fake_auth import FakeAuth, bearer, closed_url, running_stack
from tests.gateway.upstreams import running_upstream

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_states() -> None:
    clock = Clock()
    changes: list[str] = []
    breaker = Breaker(failures=3, open_seconds=5, on_change=changes.append, clock=clock)
    for _ in range(2):
        assert breaker.admit() is False
        breaker.failure(probe=False)
    breaker.success(probe=False)  # a success resets the count
    for _ in range(3):
        breaker.admit()
        breaker.failure(probe=False)
    assert breaker.state == "open"
    clock.now += 2
    with pytest.raises(CircuitOpen) as refused:
        breaker.admit()
    assert refused.value.retry_after == 3
    clock.now += 3
    assert breaker.admit() is True  # the one half-open probe
    with pytest.raises(CircuitOpen):
        breaker.admit()  # others wait for the probe
    breaker.failure(probe=True)
    assert breaker.state == "open"
    clock.now += 5
    assert breaker.admit() is True
    breaker.success(probe=True)
    assert str(breaker.state) == "closed"
    assert breaker.admit() is False
    assert changes == ["open", "half_open", "open", "half_open", "closed"]


async def test_breaker_opens_on_bad_replies_then_a_probe_closes_it() -> None:
    fake = FakeAuth()
    headers = bearer(fake.signer.token())
    async with (
        running_upstream("garbage") as model,
        running_stack(
            fake, model_service_url=model.url, breaker_failures=3, breaker_open_seconds=1
        ) as stack,
    ):
        failing = [await stack.client.get("/v2", headers=headers) for _ in range(3)]
        reached = len(model.requests)
        started = time.monotonic()
        refused = await stack.client.get("/v2", headers=headers)
        elapsed = time.monotonic() - started
        untouched = len(model.requests) == reached
        model.mode = "record"
        still_open = await stack.client.get("/v2", headers=headers)
        await asyncio.sleep(1.05)
        probe = await stack.client.get("/v2", headers=headers)
        after = await stack.client.get("/v2", headers=headers)
    assert [answer.status_code for answer in failing] == [502, 502, 502]
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "circuit" in refused.json()["detail"]
    assert elapsed < 0.1
    assert untouched
    assert still_open.status_code == 503
    assert (probe.status_code, after.status_code) == (200, 200)


async def test_replicas_share_the_load_and_a_dead_one_is_skipped() -> None:
    fake = FakeAuth()
    headers = bearer(fake.signer.token())
    async with running_upstream("record") as first, running_upstream("record") as second:
        urls = f"{first.url},{second.url},{closed_url()}"
        async with running_stack(fake, model_service_url=urls) as stack:
            answers = [await stack.client.get("/v2", headers=headers) for _ in range(30)]
    assert {answer.status_code for answer in answers} == {200}  # the dead one: retried
    assert len(first.requests) >= 10
    assert len(second.requests) >= 10


async def test_a_host_name_is_resolved_into_its_addresses_as_replicas() -> None:
    fake = FakeAuth()
    async with running_upstream("record") as model:
        port = model.url.rsplit(":", 1)[1]
        async with running_stack(
            fake, model_service_url=f"http://localhost:{port}", upstream_resolve_seconds=0.2
        ) as stack:
            await asyncio.sleep(0.5)
            upstream = gateway_state(stack.app.app).model_upstream
            replicas = [r.address for r in upstream.balancer.replicas]
            answers = [
                await stack.client.get("/v2", headers=bearer(fake.signer.token())) for _ in range(5)
            ]
    assert f"127.0.0.1:{port}" in replicas
    assert "localhost" not in " ".join(replicas)
    assert {answer.status_code for answer in answers} == {200}
