"""Body limits enforced while the body streams in, and load shedding beyond max in flight."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from gateway.main import create_app
from tests.conftest import serve_in_process
from tests.gateway.fake_auth import closed_url, gateway_settings
from tests.gateway.upstreams import running_upstream

pytestmark = pytest.mark.anyio
LIMIT = 4096


def posted(requests: list[bytes]) -> list[bytes]:
    """The requests the gateway forwarded (not its own JWKS fetches)."""
    return [request for request in requests if request.startswith(b"POST")]


async def test_declared_body_over_the_limit_is_413_and_never_forwarded() -> None:
    async with running_upstream("record") as auth:
        settings = gateway_settings(auth=auth.url, model=closed_url(), max_body_bytes=LIMIT)
        async with serve_in_process(create_app(settings)) as client:
            response = await client.post("/auth/token", content=b"x" * (LIMIT + 1))
            fits = await client.post("/auth/token", content=b"x" * LIMIT)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"  # RFC 6749's error body
    assert response.json()["error"] == "invalid_request"
    # The caller learns the limit in bytes, not the operator's environment variable.
    assert response.json()["error_description"] == (
        f"The body is {LIMIT + 1} bytes; this route takes at most {LIMIT}."
    )
    assert fits.status_code == 200
    assert len(posted(auth.requests)) == 1


async def test_streamed_body_over_the_limit_is_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 1024

    async with running_upstream("record") as auth:
        settings = gateway_settings(auth=auth.url, model=closed_url(), max_body_bytes=LIMIT)
        async with serve_in_process(create_app(settings)) as client:
            response = await client.post("/auth/revoke", content=chunks())
    assert response.status_code == 413
    assert response.json()["detail"] == f"The body exceeds this route's limit of {LIMIT} bytes."
    assert posted(auth.requests) == []


async def test_requests_beyond_max_in_flight_are_shed_at_once() -> None:
    async with running_upstream("silent") as model:
        settings = gateway_settings(
            auth=closed_url(), model=model.url, read_timeout_seconds=2.0, max_in_flight=2
        )
        async with serve_in_process(create_app(settings)) as client:
            hung = [asyncio.create_task(client.get("/v2/health/ready")) for _ in range(2)]
            await asyncio.sleep(0.3)
            started = time.monotonic()
            shed = await client.get("/v2/health/ready")
            elapsed = time.monotonic() - started
            answers = await asyncio.gather(*hung)
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert elapsed < 0.5
    assert [answer.status_code for answer in answers] == [504, 504]
