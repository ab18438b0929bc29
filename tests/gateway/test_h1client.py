"""The pooled HTTP/1.1 client against a real uvicorn app and raw servers that misbehave."""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.transport.h1client import BadReply, ConnectFailed, H1Pool, NotSent, ReadTimeout
from servir_runtime.processes import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

BIG = bytes(range(256)) * (5 * 1024 * 1024 // 256)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture(
    params=[pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"), "asyncio"],
)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    return request.param


# The uvicorn app: every reply names the client port, i.e. the connection that carried it.


def _port(request: Request) -> dict[str, str]:
    assert request.client is not None
    return {"x-client-port": str(request.client.port)}


async def hello(request: Request) -> Response:
    return JSONResponse({"ok": True}, headers={"X-Custom": "MiXeD Case", **_port(request)})


async def echo(request: Request) -> Response:
    return Response(await request.body(), headers=_port(request))


async def seen(request: Request) -> Response:
    pairs = [[k.decode(), v.decode()] for k, v in request.scope["headers"]]
    return JSONResponse(pairs, headers=_port(request))


async def status(request: Request) -> Response:
    return Response(status_code=int(request.path_params["code"]), headers=_port(request))


async def stream(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"part%d;" % i

    return StreamingResponse(parts(), headers=_port(request))


async def big(request: Request) -> Response:
    return Response(BIG, headers=_port(request))


async def slow(request: Request) -> Response:
    await asyncio.sleep(0.02)
    return Response(b"slow", headers=_port(request))


APP = Starlette(
    routes=[
        Route("/hello", hello),
        Route("/echo", echo, methods=["POST", "PUT"]),
        Route("/seen", seen, methods=["GET", "POST"]),
        Route("/status/{code}", status),
        Route("/stream", stream),
        Route("/big", big),
        Route("/slow", slow),
    ]
)


@pytest.fixture(scope="module")
def app_port() -> Iterator[int]:
    """The app under uvicorn (uvloop, httptools) in a thread of its own."""
    port = free_port()
    config = uvicorn.Config(
        APP, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped at start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


@asynccontextmanager
async def pool_on(
    port: int, *, max_connections: int = 4, connect_timeout: float = 2, idle_seconds: float = 4
) -> AsyncIterator[H1Pool]:
    pool = H1Pool(
        "127.0.0.1",
        port,
        max_connections=max_connections,
        connect_timeout=connect_timeout,
        idle_seconds=idle_seconds,
    )
    try:
        yield pool
    finally:
        await pool.aclose()


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next(value for key, value in headers if key.lower() == name)


# Raw servers: a handler gets each connection with its index (0 for the first accepted).

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@dataclass
class RawServer:
    port: int = 0
    accepts: int = 0
    requests: list[bytes] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        """One whole request (head and Content-Length body); b"" at EOF."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        length = 0
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


@asynccontextmanager
async def raw_server(handler: Callable[[RawServer], Handler]) -> AsyncIterator[RawServer]:
    raw = RawServer()
    serve = handler(raw)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        raw.tasks.add(task)
        index, raw.accepts = raw.accepts, raw.accepts + 1
        try:
            await serve(reader, writer, index)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()
        for task in raw.tasks:
            task.cancel()
        await asyncio.gather(*raw.tasks, return_exceptions=True)
        await server.wait_closed()


def answering(*replies: bytes) -> Callable[[RawServer], Handler]:
    """Answer the n-th request of each connection with replies[n]; then read one more request
    and close without answering it."""

    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
            for reply in replies:
                if not await raw.read_request(reader):
                    return
                writer.write(reply)
                await writer.drain()
            await raw.read_request(reader)

        return serve

    return handler


# Replies from the uvicorn app.


async def test_get_returns_status_headers_and_body(app_port: int) -> None:
    async with pool_on(app_port) as pool:
        reply = await pool.request("GET", "/hello?x=1", [], b"", timeout=2)
    assert reply.status == 200
    assert json.loads(reply.body) == {"ok": True}
    assert header(reply.headers, b"x-custom") == b"MiXeD Case"
    assert header(reply.headers, b"content-length") == b"11"


async def test_post_sends_body_and_given_headers_only(app_port: int) -> None:
    headers = [(b"X-Request-ID", b"r-1"), (b"content-type", b"application/json")]
    async with pool_on(app_port) as pool:
        echoed = await pool.request("POST", "/echo", headers, b'{"a": 1}', timeout=2)
        seen = await pool.request("POST", "/seen", headers, b"", timeout=2)
    assert echoed.body == b'{"a": 1}'
    assert json.loads(seen.body) == [
        ["host", f"127.0.0.1:{app_port}"],
        ["content-length", "0"],
        ["x-request-id", "r-1"],
        ["content-type", "application/json"],
    ]


async def test_head_and_bodiless_statuses_end_without_body(app_port: int) -> None:
    async with pool_on(app_port) as pool:
        head = await pool.request("HEAD", "/hello", [], b"", timeout=2)
        no_content = await pool.request("GET", "/status/204", [], b"", timeout=2)
        not_modified = await pool.request("GET", "/status/304", [], b"", timeout=2)
        after = await pool.request("GET", "/hello", [], b"", timeout=2)
    assert (head.status, head.body, header(head.headers, b"content-length")) == (200, b"", b"11")
    assert (no_content.status, no_content.body) == (204, b"")
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert after.body == b'{"ok":true}'
    ports = {header(r.headers, b"x-client-port") for r in (head, no_content, not_modified, after)}
    assert len(ports) == 1


async def test_chunked_reply_is_joined(app_port: int) -> None:
    async with pool_on(app_port) as pool:
        reply = await pool.request("GET", "/stream", [], b"", timeout=2)
    assert header(reply.headers, b"transfer-encoding") == b"chunked"
    assert reply.body == b"part0;part1;part2;"


async def test_large_bodies_pass_whole_both_ways(app_port: int) -> None:
    async with pool_on(app_port) as pool:
        down = await pool.request("GET", "/big", [], b"", timeout=10)
        up = await pool.request("PUT", "/echo", [], BIG, timeout=10)
    assert down.body == BIG
    assert up.body == BIG


async def test_keep_alive_sequential_requests_share_one_connection(app_port: int) -> None:
    async with pool_on(app_port) as pool:
        replies = [await pool.request("GET", "/hello", [], b"", timeout=2) for _ in range(5)]
    assert len({header(r.headers, b"x-client-port") for r in replies}) == 1


async def test_concurrent_requests_stay_within_max_connections(app_port: int) -> None:
    async with pool_on(app_port, max_connections=10) as pool:
        replies = await asyncio.gather(
            *(pool.request("GET", "/slow", [], b"", timeout=10) for _ in range(200))
        )
        assert pool.in_flight == 0
    assert all(r.status == 200 and r.body == b"slow" for r in replies)
    assert 1 < len({header(r.headers, b"x-client-port") for r in replies}) <= 10


async def test_idle_connection_past_idle_seconds_is_not_reused(app_port: int) -> None:
    async with pool_on(app_port, idle_seconds=0.1) as pool:
        first = await pool.request("GET", "/hello", [], b"", timeout=2)
        await asyncio.sleep(0.25)
        second = await pool.request("GET", "/hello", [], b"", timeout=2)
    assert header(first.headers, b"x-client-port") != header(second.headers, b"x-client-port")


# Exact bytes on the wire, and replies the app would not send.


async def test_request_is_written_with_host_and_content_length_rules() -> None:
    async with raw_server(answering(OK, OK, OK)) as raw, pool_on(raw.port) as pool:
        await pool.request("GET", "/a?b=1", [(b"X-One", b"1")], b"", timeout=2)
        await pool.request("POST", "/p", [], b"", timeout=2)
        await pool.request("DELETE", "/d", [], b"xy", timeout=2)
    host = f"Host: 127.0.0.1:{raw.port}\r\n".encode()
    assert raw.requests == [
        b"GET /a?b=1 HTTP/1.1\r\n" + host + b"X-One: 1\r\n\r\n",
        b"POST /p HTTP/1.1\r\n" + host + b"Content-Length: 0\r\n\r\n",
        b"DELETE /d HTTP/1.1\r\n" + host + b"Content-Length: 2\r\n\r\nxy",
    ]


async def test_interim_continue_is_skipped() -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    async with raw_server(answering(reply, reply)) as raw, pool_on(raw.port) as pool:
        first = await pool.request("POST", "/", [], b"x", timeout=2)
        second = await pool.request("POST", "/", [], b"x", timeout=2)
    assert (first.status, first.body, second.body) == (200, b"ok", b"ok")
    assert raw.accepts == 1


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_reply_without_keep_alive_is_not_reused(reply: bytes) -> None:
    async with raw_server(answering(reply, reply)) as raw, pool_on(raw.port) as pool:
        first = await pool.request("GET", "/", [], b"", timeout=2)
        second = await pool.request("GET", "/", [], b"", timeout=2)
    assert (first.body, second.body) == (b"ok", b"ok")
    assert raw.accepts == 2


async def test_http10_keep_alive_reply_is_reused() -> None:
    reply = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    async with raw_server(answering(reply, reply)) as raw, pool_on(raw.port) as pool:
        await pool.request("GET", "/", [], b"", timeout=2)
        await pool.request("GET", "/", [], b"", timeout=2)
    assert raw.accepts == 1


async def test_body_until_close_is_read_whole() -> None:
    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
            await raw.read_request(reader)
            writer.write(b"HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nall of ")
            await writer.drain()
            writer.write(b"it")

        return serve

    async with raw_server(handler) as raw, pool_on(raw.port) as pool:
        reply = await pool.request("GET", "/", [], b"", timeout=2)
    assert (reply.status, reply.headers, reply.body) == (200, [(b"X-A", b"1")], b"all of it")


# Faults.


async def test_closed_port_raises_connect_failed() -> None:
    async with pool_on(free_port()) as pool:
        with pytest.raises(ConnectFailed) as caught:
            await pool.request("POST", "/", [], b"x", timeout=2)
        assert pool.in_flight == 0
    assert not caught.value.timed_out


async def test_silent_server_raises_read_timeout_in_time() -> None:
    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
            await raw.read_request(reader)
            await asyncio.sleep(30)

        return serve

    async with raw_server(handler) as raw, pool_on(raw.port) as pool:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await pool.request("GET", "/", [], b"", timeout=0.3)
        assert time.monotonic() - started < 0.3 + 0.5
        with pytest.raises(ReadTimeout):
            await pool.request("GET", "/", [], b"", timeout=0.1)
    assert raw.accepts == 2  # the timed-out connection was not reused


async def test_garbage_reply_raises_bad_reply() -> None:
    async with raw_server(answering(b"NOT HTTP AT ALL\r\n\r\n")) as raw, pool_on(raw.port) as pool:
        with pytest.raises(BadReply):
            await pool.request("GET", "/", [], b"", timeout=2)


async def test_reply_cut_short_raises_bad_reply() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"

    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
            await raw.read_request(reader)
            writer.write(cut)
            await writer.drain()

        return serve

    async with raw_server(handler) as raw, pool_on(raw.port) as pool:
        with pytest.raises(BadReply):
            await pool.request("GET", "/", [], b"", timeout=2)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_close_after_request_on_new_connection_raises_bad_reply(method: str) -> None:
    async with raw_server(answering()) as raw, pool_on(raw.port) as pool:
        with pytest.raises(BadReply):
            await pool.request(method, "/", [], b"", timeout=2)
    assert raw.accepts == 1


async def test_close_after_request_on_reused_connection_retries_get() -> None:
    async with raw_server(answering(OK)) as raw, pool_on(raw.port) as pool:
        await pool.request("GET", "/", [], b"", timeout=2)
        reply = await pool.request("GET", "/again", [], b"", timeout=2)
    assert reply.body == b"ok"
    assert raw.accepts == 2
    assert [r.split(b" ")[1] for r in raw.requests] == [b"/", b"/again", b"/again"]


async def test_close_after_request_on_reused_connection_fails_post() -> None:
    async with raw_server(answering(OK)) as raw, pool_on(raw.port) as pool:
        await pool.request("POST", "/", [], b"1", timeout=2)
        with pytest.raises(BadReply):
            await pool.request("POST", "/", [], b"2", timeout=2)
    assert raw.accepts == 1


async def test_server_closing_idle_connection_is_transparent() -> None:
    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
            await raw.read_request(reader)
            writer.write(OK)
            await writer.drain()
            await asyncio.sleep(0.05)  # then the idle keep-alive connection is closed

        return serve

    async with raw_server(handler) as raw, pool_on(raw.port, max_connections=1) as pool:
        await pool.request("POST", "/", [], b"1", timeout=2)
        await asyncio.sleep(0.2)
        reply = await pool.request("POST", "/", [], b"2", timeout=2)
    assert reply.body == b"ok"
    assert raw.accepts == 2


async def test_cancelled_request_frees_its_connection() -> None:
    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
            while await raw.read_request(reader):
                await asyncio.sleep(30 if i == 0 else 0)
                writer.write(OK)

        return serve

    async with raw_server(handler) as raw, pool_on(raw.port, max_connections=1) as pool:
        pending = asyncio.create_task(pool.request("GET", "/", [], b"", timeout=10))
        await asyncio.sleep(0.1)
        assert pool.in_flight == 1
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert pool.in_flight == 0
        reply = await pool.request("GET", "/", [], b"", timeout=2)
        again = await pool.request("GET", "/", [], b"", timeout=2)
    assert (reply.body, again.body) == (b"ok", b"ok")
    assert raw.accepts == 2


async def test_full_pool_wait_times_out_as_connect_failed() -> None:
    def handler(raw: RawServer) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
            await raw.read_request(reader)
            await asyncio.sleep(30)

        return serve

    async with (
        raw_server(handler) as raw,
        pool_on(raw.port, max_connections=1, connect_timeout=0.2) as pool,
    ):
        busy = asyncio.create_task(pool.request("GET", "/", [], b"", timeout=5))
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectFailed) as caught:
            await pool.request("GET", "/", [], b"", timeout=5)
        assert caught.value.timed_out
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy


async def test_closed_pool_refuses_requests(app_port: int) -> None:
    async with pool_on(app_port) as pool:
        await pool.request("GET", "/hello", [], b"", timeout=2)
    with pytest.raises(NotSent):
        await pool.request("GET", "/hello", [], b"", timeout=2)
