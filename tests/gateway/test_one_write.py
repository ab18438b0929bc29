"""Each answer's head and body leave in one write (gateway.transport.one_write)."""

import asyncio
import json
from types import SimpleNamespace

import pytest

from gateway.transport.one_write import JOIN_BYTES, HeadHeld
from servir_runtime.uvicorn_private.connections import ClosingView
from tests.gateway.test_connections import running_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


class Sink:
    """A transport that keeps what it is given, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.writes.append(b"".join(parts))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_the_head_waits_for_the_body() -> None:
    sink = Sink()
    held = HeadHeld(sink)
    held.holding = True
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert sink.writes == []
    held.write(b"body")
    held.write(b"more")
    large = b"x" * (JOIN_BYTES + 1)
    held.holding = True
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    held.write(large)
    assert sink.writes == [
        b"HTTP/1.1 200 OK\r\n\r\nbody",
        b"more",
        b"HTTP/1.1 200 OK\r\n\r\n" + large,
    ]


def test_a_close_writes_a_held_head_and_continue_is_never_held() -> None:
    sink = Sink()
    held = HeadHeld(sink)
    held.holding = True
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    held.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    held.close()
    assert sink.writes == [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 500 Internal Server Error\r\n\r\n",
    ]
    assert sink.closed


async def test_answers_on_one_kept_alive_connection_stay_whole() -> None:
    async with running_gateway() as gateway:
        reader, writer = await gateway.connect()
        answers = []
        for _ in range(3):  # 401s: answered by the gateway's own chain
            writer.write(b"GET /v2 HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            answers.append((head, await asyncio.wait_for(reader.readexactly(length), 5)))
        writer.close()
    for head, body in answers:
        assert head.startswith(b"HTTP/1.1 401")
        assert json.loads(body)["status"] == 401


async def test_expect_100_continue_still_answers_at_once() -> None:
    async with running_gateway() as gateway:
        reader, writer = await gateway.connect()
        body = b"token=x"
        writer.write(
            b"POST /auth/revoke HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(body)
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    assert final.startswith(b"HTTP/1.1 200")


def test_a_large_answer_through_the_closing_view_is_whole() -> None:
    # A request that asks to close sees the transport through ClosingView (its close lingers);
    # a body past JOIN_BYTES goes out beside its head, which the view must pass on.
    protocol = SimpleNamespace(transport=Sink())
    held = HeadHeld(ClosingView(protocol))  # type: ignore[arg-type]
    large = b"x" * (JOIN_BYTES + 1)
    held.holding = True
    held.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    held.write(large)
    assert protocol.transport.writes == [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + large]
