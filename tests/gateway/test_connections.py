"""Slow and greedy clients against the gateway served by uvicorn with its connection protocol:
head and body deadlines (408 or a close), the cap of connections per client IP (closed at
accept), the in-flight budget counting only requests whose body is in, and the lingering
close that lets a client still sending read the answer."""

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.main import connection_protocol, create_app
from servir_runtime.processes import free_port
from tests.gateway.fake_auth import INTROSPECT_PATH, JWKS_PATH, FakeAuth, gateway_settings
from tests.gateway.upstreams import Upstream, running_upstream

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
HOST = "127.0.0.1"
ADMIN_SCOPES = "models:read models:predict models:admin"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    """uvloop, as the gateway runs in production (server.serve)."""
    return "asyncio", {"use_uvloop": True}


@dataclass
class Gateway:
    """A gateway listening on a real socket, its fake auth-service and model-service."""

    port: int
    fake: FakeAuth
    auth: Upstream
    model: Upstream

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def connect(
        self, source: str = HOST
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw connection from the loopback address `source`."""
        return await asyncio.open_connection(HOST, self.port, local_addr=(source, 0))


@asynccontextmanager
async def running_gateway(**extra: Any) -> AsyncIterator[Gateway]:
    """The gateway under uvicorn with its connection protocol; `extra` are settings."""
    fake = FakeAuth()
    handlers = {JWKS_PATH: fake.jwks, INTROSPECT_PATH: fake.introspect}
    async with running_upstream("record", handlers) as auth, running_upstream("record") as model:
        settings = gateway_settings(auth=auth.url, model=model.url, **extra)
        port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host=HOST,
            port=port,
            http=connection_protocol(settings),
            log_config=None,
            access_log=False,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "the gateway stopped at start"
            await asyncio.sleep(0.01)
        try:
            yield Gateway(port, fake, auth, model)
        finally:
            server.should_exit = True
            await task


async def answer_and_close(reader: asyncio.StreamReader, seconds: float = 10) -> bytes:
    """Everything the gateway sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), seconds)


def problem(data: bytes, status: int) -> dict[str, Any]:
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert b"content-type: application/problem+json" in head
    assert b"connection: close" in head
    parsed: dict[str, Any] = json.loads(body)
    assert parsed["status"] == status
    return parsed


async def test_an_unfinished_head_is_408_and_closed_at_the_head_deadline() -> None:
    async with running_gateway(head_timeout_seconds=1) as gateway:
        reader, writer = await gateway.connect()
        writer.write(b"POST /auth/revoke HTTP/1.1\r\nHost: servir\r\nContent-Le")
        data = await answer_and_close(reader, 5)
        writer.close()
    assert problem(data, 408)["title"] == "Request Timeout"


async def test_a_connection_that_sends_nothing_is_closed_at_the_head_deadline() -> None:
    async with running_gateway(head_timeout_seconds=1) as gateway:
        reader, writer = await gateway.connect()
        data = await answer_and_close(reader, 5)
        writer.close()
    assert data == b""


async def test_a_stalled_body_is_408_at_the_body_deadline_and_never_forwarded() -> None:
    async with running_gateway(body_timeout_seconds=1) as gateway:
        reader, writer = await gateway.connect()
        writer.write(b"POST /auth/revoke HTTP/1.1\r\nHost: servir\r\nContent-Length: 1000\r\n\r\nx")
        data = await answer_and_close(reader, 5)
        writer.close()
        forwarded = [head for head in gateway.auth.requests if head.startswith(b"POST")]
    assert problem(data, 408)["detail"] == "The request body came too slowly."
    assert forwarded == []


async def test_an_upload_body_has_the_longer_upload_deadline() -> None:
    async with running_gateway(body_timeout_seconds=0.5, upload_body_timeout_seconds=30) as gw:
        token = gw.fake.signer.token(scope=ADMIN_SCOPES)
        reader, writer = await gw.connect()
        head = (
            f"POST /models HTTP/1.1\r\nHost: servir\r\nAuthorization: Bearer {token}\r\n"
            "Content-Length: 6\r\n\r\n"
        )
        writer.write(head.encode() + b"bun")
        with pytest.raises(TimeoutError):  # past the body deadline, still waiting for the rest
            await asyncio.wait_for(reader.read(1), 1.5)
        writer.write(b"dle")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert gw.model.bodies == [b"bundle"]


async def test_bodies_still_arriving_do_not_take_the_in_flight_budget() -> None:
    async with running_gateway(max_in_flight=2) as gateway:
        slow = [await gateway.connect(f"127.0.0.{2 + i}") for i in range(5)]
        for _, writer in slow:
            writer.write(b"POST /auth/revoke HTTP/1.1\r\nHost: s\r\nContent-Length: 100\r\n\r\nx")
        await asyncio.sleep(0.3)  # let the gateway start on all five
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            answers = [await client.post("/auth/revoke", content=b"token=t") for _ in range(3)]
        for _, writer in slow:
            writer.close()
    assert [answer.status_code for answer in answers] == [200, 200, 200]


async def test_connections_beyond_the_cap_per_ip_are_closed_at_accept() -> None:
    async with running_gateway(max_connections_per_ip=3) as gateway:
        held = [await gateway.connect("127.0.0.5") for _ in range(3)]
        reader, writer = await gateway.connect("127.0.0.5")
        refused = await answer_and_close(reader, 5)
        writer.close()
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            other_ip = await client.get("/livez")
        held.pop()[1].close()
        await asyncio.sleep(0.2)  # the gateway sees the close
        reader, writer = await gateway.connect("127.0.0.5")
        writer.write(b"GET /livez HTTP/1.1\r\nHost: s\r\n\r\n")
        again = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
        for _, other in held:
            other.close()
    assert refused == b""
    assert other_ip.status_code == 200
    assert again.startswith(b"HTTP/1.1 200 ")


async def test_trusted_proxies_are_not_capped() -> None:
    async with running_gateway(max_connections_per_ip=2, trusted_proxies=["127.0.0.6"]) as gw:
        held = [await gw.connect("127.0.0.6") for _ in range(4)]
        reader, writer = held[-1]
        writer.write(b"GET /livez HTTP/1.1\r\nHost: s\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        for _, other in held:
            other.close()
    assert answer.startswith(b"HTTP/1.1 200 ")


BIG = b"x" * (3 * 1024 * 1024)  # over GATEWAY_MAX_BODY_BYTES (1 MiB)


def urllib_post(url: str) -> tuple[int, dict[str, Any]]:
    """POST 3 MiB as urllib does (Connection: close, the whole body before reading)."""
    request = urllib.request.Request(url, data=BIG, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_a_body_over_the_limit_gets_its_413_with_urllib_and_httpx() -> None:
    """The 413 comes before the body is read; closing at once would reset the connection
    under a client still writing (a broken pipe, not the answer)."""
    async with running_gateway() as gateway:
        url = f"{gateway.url}/auth/revoke"
        by_urllib = [await asyncio.to_thread(urllib_post, url) for _ in range(20)]
        async with httpx.AsyncClient(timeout=10) as client:
            by_httpx = [await client.post(url, content=BIG) for _ in range(20)]
    assert {status for status, _ in by_urllib} == {413}
    assert all(body["title"] == "Content Too Large" for _, body in by_urllib)
    assert {response.status_code for response in by_httpx} == {413}
    assert {response.headers["content-type"] for response in by_httpx} == {
        "application/problem+json"
    }


async def send_slowly(writer: asyncio.StreamWriter, size: int) -> None:
    """Write `size` bytes 64 KiB at a time, each drained."""
    for _ in range(size // 65536):
        writer.write(b"x" * 65536)
        await asyncio.wait_for(writer.drain(), 5)
        await asyncio.sleep(0.001)


async def test_lingering_stops_after_the_byte_bound() -> None:
    async with running_gateway(linger_max_bytes=64 * 1024) as gateway:
        reader, writer = await gateway.connect()
        head = b"POST /auth/revoke HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n" % len(BIG)
        writer.write(head)
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        with pytest.raises(ConnectionError):  # the gateway stops reading: the writes fail
            await send_slowly(writer, len(BIG))
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")  # RFC 9110's name


async def drip_until_refused(writer: asyncio.StreamWriter, *, pause: float = 0.0) -> None:
    """After `pause` seconds of silence, write a byte every 0.05 s until the gateway refuses
    them (it has closed); at most 10 s."""
    await asyncio.sleep(pause)
    async with asyncio.timeout(10):
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)


async def answered_413(gateway: Gateway) -> tuple[asyncio.StreamWriter, bytes]:
    """A connection whose declared body is over the limit, and its answer (then the FIN)."""
    reader, writer = await gateway.connect()
    writer.write(b"POST /auth/revoke HTTP/1.1\r\nHost: s\r\nContent-Length: 3000000\r\n\r\n")
    return writer, await answer_and_close(reader, 5)


async def test_lingering_ends_at_its_time_bound_while_the_client_still_sends() -> None:
    async with running_gateway(linger_seconds=1) as gateway:
        writer, answer = await answered_413(gateway)
        with pytest.raises(ConnectionError):
            await drip_until_refused(writer)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_lingering_ends_when_the_client_pauses_past_the_idle_bound() -> None:
    async with running_gateway(linger_idle_seconds=0.5) as gateway:
        writer, answer = await answered_413(gateway)
        with pytest.raises(ConnectionError):
            await drip_until_refused(writer, pause=1.5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_each_request_on_a_kept_alive_connection_gets_its_own_head_deadline() -> None:
    async with running_gateway(head_timeout_seconds=0.5) as gateway:
        reader, writer = await gateway.connect()
        answers = []
        for _ in range(2):
            writer.write(b"GET /livez HTTP/1.1\r\nHost: s\r\n\r\n")
            answers.append(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))
            await reader.readexactly(int(answers[-1].split(b"content-length: ")[1].split()[0]))
            await asyncio.sleep(1)  # idle past the head deadline, within uvicorn's keep-alive
        writer.close()
    assert [answer.split(b"\r\n")[0] for answer in answers] == [b"HTTP/1.1 200 OK"] * 2


async def test_an_answer_before_the_body_says_the_connection_closes() -> None:
    """A 401 answered while the body is still due: the connection lingers and closes, so the
    answer says `connection: close` (RFC 9112 9.6), or a client would send its next request
    on a connection about to close and see it cut."""
    async with running_gateway() as gateway:
        reader, writer = await gateway.connect()
        head = b"POST /models/iris/predict HTTP/1.1\r\nHost: s\r\nContent-Length: 100\r\n\r\n"
        writer.write(head + b"{")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 401 "), answer
    assert b"connection: close" in answer.lower()
