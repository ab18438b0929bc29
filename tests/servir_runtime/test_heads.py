"""The bounded request head: uvicorn with `bounded_head_protocol` answers 431 (or 400) as
problem+json and closes, before the application sees the request."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from servir_runtime.processes import free_port
from servir_runtime.uvicorn_private import bounded_head_protocol

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]
MAX_BYTES = 8192
MAX_HEADERS = 32


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request 200 with the number of headers it saw."""
    body = str(len(scope["headers"])).encode()
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": 200, "headers": [length]})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def running_server() -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        hello,
        host="127.0.0.1",
        port=port,
        http=bounded_head_protocol(max_bytes=MAX_BYTES, max_headers=MAX_HEADERS),
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, *chunks: bytes) -> tuple[bytes, bytes]:
    """Send `chunks` one read apart, stopping once an answer comes; (the answer's head, its
    body), read to the close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = b""
    for chunk in chunks:
        writer.write(chunk)
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.05)
        except TimeoutError:
            continue
        break
    data += await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def assert_problem(head: bytes, body: bytes, status: int) -> None:
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert b"content-type: application/problem+json" in head
    assert b"connection: close" in head
    problem = json.loads(body)
    assert problem["status"] == status
    assert f"x-request-id: {problem['request_id']}".encode() in head


async def test_heads_within_the_limits_are_served_and_kept_alive() -> None:
    headers = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS - 2))
    request = b"GET / HTTP/1.1\r\nHost: h\r\n" + headers + b"\r\n"
    async with running_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # the count starts afresh for every request on the connection
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            await reader.readexactly(2)
        writer.close()


async def test_too_many_headers_are_431() -> None:
    headers = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    async with running_server() as port:
        head, body = await exchange(port, b"GET /a?b HTTP/1.1\r\nHost: h\r\n" + headers + b"\r\n")
    assert_problem(head, body, 431)
    assert json.loads(body)["instance"] == "/a"


async def test_a_header_value_beyond_the_bytes_is_431() -> None:
    big = b"X-Big: " + b"a" * MAX_BYTES + b"\r\n"
    async with running_server() as port:
        head, body = await exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\n" + big + b"\r\n")
    assert_problem(head, body, 431)


async def test_a_head_that_never_ends_is_cut_off_once_past_the_bytes() -> None:
    start = b"GET / HTTP/1.1\r\nHost: h\r\nX-Endless: "
    chunks = [start, *([b"a" * 2048] * 16)]  # 32 KiB of one value, never finished
    async with running_server() as port:
        head, body = await exchange(port, *chunks)
    assert_problem(head, body, 431)


async def test_a_long_request_target_is_431() -> None:
    async with running_server() as port:
        head, body = await exchange(port, b"GET /" + b"a" * MAX_BYTES + b" HTTP/1.1\r\n\r\n")
    assert_problem(head, body, 431)
    assert json.loads(body)["instance"].startswith("/aaa")


async def test_what_is_not_http_is_400_problem_json() -> None:
    async with running_server() as port:
        head, body = await exchange(port, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert_problem(head, body, 400)
    assert json.loads(body)["instance"] == "/"
