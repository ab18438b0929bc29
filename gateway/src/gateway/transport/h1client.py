"""A lean pooled HTTP/1.1 client for the proxy hot path: keep-alive connections to one origin.

httpx over aiohttp cost the gateway ~40% of its CPU per proxied request (URL merging, cookies,
header models, two layers of request objects). This client writes each request as one buffer
and parses replies with httptools (llhttp) on asyncio protocols.

Errors: `ConnectFailed` (nothing sent; `NotSent` is its kind for "the pool could not even
try"), `ReadTimeout` and `BadReply` (the request was sent; the connection is closed).

A reused connection that the server closes before any byte of the reply is retried once on a
new connection for idempotent methods only. The race is with the server's idle timeout
(uvicorn: 5 s), which `idle_seconds` stays under; for POST/PATCH a retry could repeat a side
effect, so that rare case is a `BadReply`. If the retry cannot connect, that is a
`ConnectFailed` although the first attempt was written: the method is idempotent, so sending
it to another replica is still safe.
"""

import asyncio
import time
from collections import deque

from gateway.transport.h1connection import (
    BadReply,
    ConnectFailed,
    H1Connection,
    H1Error,
    H1Reply,
    Headers,
    NotSent,
    ReadTimeout,
)

__all__ = ["BadReply", "ConnectFailed", "H1Error", "H1Pool", "H1Reply", "NotSent", "ReadTimeout"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Methods that send no Content-Length when their body is empty (all others send one, even 0).
_BODILESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


def _expire(waiter: "asyncio.Future[H1Connection | None]") -> None:
    if not waiter.done():
        waiter.set_exception(NotSent("no free connection in time", timed_out=True))


class H1Pool:
    """Keep-alive connections to one origin (host, port)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int,
        connect_timeout: float,
        idle_seconds: float = 4.0,
    ) -> None:
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.idle_seconds = idle_seconds
        self.in_flight = 0  # requests using this pool now, for least-outstanding balancing
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._host_line = f"Host: {authority}\r\n".encode("ascii")
        self._idle: list[H1Connection] = []  # a stack: the freshest on top
        self._waiters: deque[asyncio.Future[H1Connection | None]] = deque()
        self._open = 0  # connections open or opening, idle or busy
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        *,
        timeout: float,  # noqa: ASYNC109 (counts from the write, not from the call)
    ) -> H1Reply:
        """Send one request and read the whole reply, within `timeout` seconds of the write."""
        data = self._encode(method, target, headers, body)
        self.in_flight += 1
        try:
            return await self._send(data, method, read_seconds=timeout)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        """Close the idle connections; later requests fail with `NotSent`."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        self._open -= len(idle)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(NotSent("the pool is closed"))
        await asyncio.sleep(0)  # lets the transports finish closing

    def _encode(self, method: str, target: str, headers: Headers, body: bytes) -> bytes:
        if " " in target or not target.isprintable():
            raise ValueError(f"invalid request target {target!r}")
        lines = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._host_line]
        if body or method not in _BODILESS:
            lines.append(b"Content-Length: %d\r\n" % len(body))
        for name, value in headers:
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    async def _send(self, data: bytes, method: str, *, read_seconds: float) -> H1Reply:
        conn = self._pop_idle() or await self._reserve()
        retry = conn is not None and method in _IDEMPOTENT
        while True:  # at most twice: the retry sets `retry` to False
            if conn is None:
                conn = await self._connect()
            try:
                reply = await conn.send(data, head=method == "HEAD", timeout=read_seconds)
            except BadReply:
                conn.abort()
                if retry and not conn.answered:
                    retry, conn = False, None
                    continue
                self._give(None)
                raise
            except BaseException:  # timeouts, cancellation: never reuse a half-used connection
                conn.abort()
                self._give(None)
                raise
            self._release(conn)
            return reply

    def _release(self, conn: H1Connection) -> None:
        if conn.keep_alive and not conn.closed:
            self._give(conn)
        else:
            conn.close()
            self._give(None)

    def _pop_idle(self) -> H1Connection | None:
        """The freshest live idle connection; stale ones found on the way are closed."""
        idle = self._idle
        if idle:
            oldest_allowed = time.monotonic() - self.idle_seconds
            while idle:
                conn = idle.pop()
                if not conn.closed and conn.idle_since >= oldest_allowed:
                    return conn
                conn.close()
                self._open -= 1
        return None

    async def _reserve(self) -> H1Connection | None:
        """No idle connection: a slot (None) to open a new one in, or one handed over."""
        if self._closed:
            raise NotSent("the pool is closed")
        if self._open < self.max_connections:
            self._open += 1
            return None
        return await self._wait()

    async def _wait(self) -> H1Connection | None:
        """Wait for a connection to be handed over, or for a slot (None) to open a new one."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[H1Connection | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.connect_timeout, _expire, waiter)
        try:
            conn = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give(waiter.result())  # cancelled just after the handover: pass it on
            raise
        finally:
            timer.cancel()
        if conn is not None and conn.closed:
            return None  # the server closed it meanwhile: its slot is ours for a new one
        return conn

    async def _connect(self) -> H1Connection:
        """Open a connection in a slot already counted; the slot is freed if that fails."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(H1Connection, self.host, self.port)
        except TimeoutError as exc:
            self._give(None)
            raise ConnectFailed(
                f"connect timeout to {self.host}:{self.port}", timed_out=True
            ) from exc
        except OSError as exc:
            self._give(None)
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        except BaseException:
            self._give(None)
            raise
        return conn

    def _give(self, conn: H1Connection | None) -> None:
        """Hand a connection, or the slot of a closed one (None), to the first waiter."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is None:
            self._open -= 1
        elif self._closed:
            conn.close()
            self._open -= 1
        else:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
