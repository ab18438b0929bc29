"""Graceful shutdown of a real gateway process: on SIGTERM it stops accepting, lets accepted
requests finish within `GATEWAY_SHUTDOWN_GRACE_SECONDS`, closes idle keep-alive connections
cleanly, and exits 0."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from servir_runtime.processes import HOST, free_port
from servir_runtime.stack import ROOT
from tests.gateway.upstreams import json_reply

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.timeout(60)]

READY = "/v2/health/ready"  # public, and forwarded to the model-service
SLOW_BODY = b'{"ready": true, "slow": true}'


@dataclass
class SlowUpstream:
    """Stands in for both services: `GET /v2/health/ready` answers after `delay` seconds,
    anything else (the gateway's own JWKS fetches) at once with a 404."""

    delay: float
    url: str = ""
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1].split(b"?")[0]
                if path == READY.encode():
                    self.slow_started.set()
                    await asyncio.sleep(self.delay)
                    writer.write(json_reply(200, SLOW_BODY))
                else:
                    writer.write(json_reply(404, b"{}"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def running_upstream(delay: float) -> AsyncIterator[SlowUpstream]:
    upstream = SlowUpstream(delay)
    server = await asyncio.start_server(upstream.handle, HOST, 0)
    upstream.url = f"http://{HOST}:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield upstream


@dataclass
class Gateway:
    """A `python -m gateway` process these tests own."""

    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self, *, within: float) -> int:
        """The process's exit status once it has exited, failing after `within` seconds."""
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            pytest.fail(f"the gateway still ran {within} s after SIGTERM:\n{self.log()}")


@asynccontextmanager
async def running_gateway(
    tmp_path: Path, *, upstream: str, redis_url: str, grace: str
) -> AsyncIterator[Gateway]:
    """A gateway in front of `upstream`, yielded once its `/livez` answers."""
    port = free_port()
    env = {
        **os.environ,
        "SERVIR_ENV": "test",
        "GATEWAY_PORT": str(port),
        "GATEWAY_METRICS_PORT": str(free_port()),
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_AUTH_SERVICE_URL": upstream,
        "GATEWAY_MODEL_SERVICE_URL": upstream,
        "GATEWAY_RATE_LIMIT_ENABLED": "false",
        "GATEWAY_SHUTDOWN_GRACE_SECONDS": grace,
    }
    log_path = tmp_path / "gateway.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    gateway = Gateway(process, port, log_path)
    try:
        await wait_live(gateway)
        yield gateway
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def wait_live(gateway: Gateway) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=1, trust_env=False) as client:
        while True:
            assert gateway.process.returncode is None, f"the gateway exited:\n{gateway.log()}"
            assert time.monotonic() < deadline, f"the gateway never answered:\n{gateway.log()}"
            try:
                if (await client.get(f"http://{HOST}:{gateway.port}/livez")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: servir\r\n\r\n".encode()


async def read_response(reader: asyncio.StreamReader) -> bytes:
    """One whole response with a Content-Length body, leaving the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def refused_within(port: int, seconds: float) -> float:
    """How long until a new connection to `port` is refused (accepted ones are closed)."""
    started = time.monotonic()
    while True:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except ConnectionRefusedError:
            return time.monotonic() - started
        writer.close()
        assert time.monotonic() - started < seconds, "new connections still accepted"
        await asyncio.sleep(0.02)


async def test_sigterm_lets_an_accepted_slow_request_finish_and_exits_0(
    tmp_path: Path, redis_url: str
) -> None:
    async with (
        running_upstream(delay=2.0) as upstream,
        running_gateway(tmp_path, upstream=upstream.url, redis_url=redis_url, grace="10") as gw,
    ):
        idle_reader, idle_writer = await asyncio.open_connection(HOST, gw.port)
        idle_writer.write(get("/livez"))
        assert (await read_response(idle_reader)).startswith(b"HTTP/1.1 200 ")
        slow_reader, slow_writer = await asyncio.open_connection(HOST, gw.port)
        slow_writer.write(get(READY))
        await asyncio.wait_for(upstream.slow_started.wait(), 10)
        await asyncio.sleep(0.5)

        signalled = time.monotonic()
        gw.terminate()
        refused_after = await refused_within(gw.port, 1.0)
        idle_end = await asyncio.wait_for(idle_reader.read(), 2)  # a reset would raise here
        idle_closed_after = time.monotonic() - signalled
        slow_reply = await asyncio.wait_for(slow_reader.read(), 10)
        code = await gw.exit_code(within=10)
        exited_after = time.monotonic() - signalled
        idle_writer.close()
        slow_writer.close()

    assert slow_reply.startswith(b"HTTP/1.1 200 OK\r\n"), slow_reply
    assert slow_reply.endswith(b"\r\n\r\n" + SLOW_BODY)
    assert b"\r\nconnection: close\r\n" in slow_reply.lower()
    assert refused_after < 1.0
    assert idle_end == b""
    assert idle_closed_after < 1.0  # closed by the shutdown, not by the keep-alive timeout
    assert code == 0, gw.log()
    assert 1.0 < exited_after < 4.0  # waited for the slow request, not for the whole grace


async def test_sigterm_with_nothing_in_flight_exits_at_once(tmp_path: Path, redis_url: str) -> None:
    async with (
        running_upstream(delay=2.0) as upstream,
        running_gateway(tmp_path, upstream=upstream.url, redis_url=redis_url, grace="10") as gw,
    ):
        signalled = time.monotonic()
        gw.terminate()
        code = await gw.exit_code(within=10)
        exited_after = time.monotonic() - signalled
    assert code == 0, gw.log()
    assert exited_after < 1.5


async def test_sigterm_ends_requests_that_outlive_a_fractional_grace(
    tmp_path: Path, redis_url: str
) -> None:
    async with (
        running_upstream(delay=20.0) as upstream,
        running_gateway(tmp_path, upstream=upstream.url, redis_url=redis_url, grace="0.9") as gw,
    ):
        reader, writer = await asyncio.open_connection(HOST, gw.port)
        writer.write(get(READY))
        await asyncio.wait_for(upstream.slow_started.wait(), 10)

        signalled = time.monotonic()
        gw.terminate()
        code = await gw.exit_code(within=10)
        exited_after = time.monotonic() - signalled
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()

    assert code == 0, gw.log()
    assert 0.9 <= exited_after < 3.0  # the grace was honoured (not truncated to 0), then ended
    # Cut at the end of the grace: a 503 problem the client may retry, not a reset or a 500.
    assert reply.startswith(b"HTTP/1.1 503 "), reply
    assert b"application/problem+json" in reply
    assert b"\r\nretry-after: 1\r\n" in reply.lower()
