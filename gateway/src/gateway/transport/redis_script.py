"""Runs one Lua script on Redis over one pipelined connection: the rate limiter's hot path.

redis-py costs ~150 µs of CPU per script call (pool checkout, command packing, parser layers);
this client writes `EVALSHA` per call, one buffer per loop iteration, and resolves the callers'
futures from the RESP2 replies in order. Errors: `ScriptError` (Redis answered one),
`TimeoutError` (no reply in time: the connection closes, its stream being out of step) and
`ConnectionError`. A call answered `NOSCRIPT` is resent once as `EVAL` (which loads the
script), behind the calls already written.
"""

import asyncio
import hashlib
import socket
from collections import deque
from typing import Any, cast
from urllib.parse import unquote, urlsplit


class ScriptError(Exception):
    """Redis answered an error other than NOSCRIPT."""


class _NoScript(Exception):
    """Redis does not hold the script (restarted, or SCRIPT FLUSH): send it with EVAL."""


def supports(url: str) -> bool:
    """True for the URLs this client handles: redis://[[user]:password@]host[:port][/db]."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError when the port is not a number)
    except ValueError:
        return False
    path = parts.path.strip("/")
    db = not path or (path.isascii() and path.isdigit())  # "\u00b2".isdigit() is True
    plain = not parts.query and not parts.fragment and db
    return parts.scheme == "redis" and bool(parts.hostname) and plain


def encode(words: list[bytes | str | int]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(words)]
    for word in words:
        data = word if isinstance(word, bytes) else str(word).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def parse(buf: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """The reply that starts at `pos` and where the next one starts (-1: not all here yet)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None, -1
    kind, after = buf[pos], end + 2
    if kind == 58:  # ':' integer
        return int(buf[pos + 1 : end]), after
    if kind == 36:  # '$' bulk string
        return _bulk(buf, int(buf[pos + 1 : end]), after)
    if kind == 42:  # '*' array
        return _array(buf, int(buf[pos + 1 : end]), after)
    if kind == 43:  # '+' simple string
        return bytes(buf[pos + 1 : end]), after
    if kind == 45:  # '-' error: raised for a whole reply, kept as a value inside an array
        text = bytes(buf[pos + 1 : end]).decode(errors="replace")
        return (_NoScript(text) if text.startswith("NOSCRIPT") else ScriptError(text)), after
    raise ConnectionError(f"invalid RESP reply from Redis (type byte {kind!r})")


def _bulk(buf: bytes | bytearray, size: int, pos: int) -> tuple[Any, int]:
    if size < 0:
        return None, pos
    stop = pos + size
    return (bytes(buf[pos:stop]), stop + 2) if len(buf) >= stop + 2 else (None, -1)


def _array(buf: bytes | bytearray, count: int, pos: int) -> tuple[Any, int]:
    items = []
    for _ in range(count):
        item, pos = parse(buf, pos)
        if pos < 0:
            return None, -1
        items.append(item)
    return (items if count >= 0 else None), pos


class _Connection(asyncio.Protocol):
    """One pipelined connection: a FIFO of futures, resolved by the replies in order."""

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.pending: deque[tuple[asyncio.Future[Any], float]] = deque()  # (call, deadline)
        self.buffer = bytearray()
        self.unsent: list[bytes] = []
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False

    def call(self, command: bytes) -> "asyncio.Future[Any]":
        """Queue one command; its reply (or error) resolves the future."""
        if self.closed:
            raise ConnectionError("the Redis connection is closed")
        future = self.loop.create_future()
        self.pending.append((future, self.loop.time() + self.timeout))
        if self.timer is None:
            self.timer = self.loop.call_later(self.timeout, self._check_deadline)
        if not self.unsent:
            self.loop.call_soon(self._flush)
        self.unsent.append(command)
        return future

    def close(self, error: BaseException | None = None) -> None:
        """Close at once; the oldest waiting call fails with `error`, all with ConnectionError."""
        if not self.closed and self.transport is not None:
            self.transport.abort()
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.unsent.clear()
        while self.pending:
            future, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(error or ConnectionError("Redis connection closed"))
                error = None

    def _flush(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.unsent))
        self.unsent.clear()

    def _check_deadline(self) -> None:
        self.timer = None  # one timer, for the oldest call: the first deadline
        if self.pending and self.loop.time() >= self.pending[0][1]:
            self.close(TimeoutError(f"no reply from Redis within {self.timeout} s"))
        elif self.pending:
            self.timer = self.loop.call_at(self.pending[0][1], self._check_deadline)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data if self.buffer else data  # a partial reply waits in buffer
        pos, size, pending = 0, len(buf), self.pending
        try:
            while pos < size:
                reply, end = parse(buf, pos)
                if end < 0:
                    break
                pos = end
                future = pending.popleft()[0]  # IndexError: a reply nobody asked for
                if future.done():  # its caller was cancelled: the reply is just consumed
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except (ValueError, IndexError, ConnectionError) as exc:
            self.close(ConnectionError(f"Redis stream out of step: {exc!r}"))
            return
        self.buffer = bytearray(buf[pos:]) if pos < size else bytearray()

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()


class ScriptClient:
    """Runs one Lua script on Redis over one pipelined connection."""

    def __init__(self, url: str, script: str, *, timeout: float) -> None:
        if not supports(url):
            raise ValueError("expected redis://[[user]:password@]host[:port][/db]")
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or 6379
        self.timeout = timeout
        self._setup: list[tuple[str, bytes]] = []  # sent first on every new connection
        if parts.password is not None:
            user = [unquote(parts.username)] if parts.username else []
            self._setup.append(("AUTH", encode(["AUTH", *user, unquote(parts.password)])))
        if int(parts.path.strip("/") or 0):
            self._setup.append(("SELECT", encode(["SELECT", parts.path.strip("/")])))
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script, usedforsecurity=False).hexdigest().encode()
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._closed = False

    async def run(self, keys: list[str], args: list[str | int]) -> Any:
        """The script's reply for these keys and args, RESP decoded: int, bytes, list, None."""
        words: list[bytes | str | int] = [len(keys), *keys, *args]
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        try:
            return await conn.call(encode([b"EVALSHA", self._sha, *words]))
        except _NoScript:
            pass
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        return await conn.call(encode([b"EVAL", self._script, *words]))

    async def aclose(self) -> None:
        """Close the connection; pending and later calls fail with ConnectionError."""
        self._closed = True
        if self._conn is not None:
            self._conn.close()
        await asyncio.sleep(0)  # lets the transport finish closing

    async def _connect(self) -> _Connection:
        """The open connection, shared by concurrent callers (one of them cancelled or not)."""
        if self._closed:
            raise ConnectionError("the Redis client is closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Connection:
        conn = _Connection(self.timeout)
        try:
            async with asyncio.timeout(self.timeout):
                await self._handshake(conn)
            if self._closed:
                raise ConnectionError("the Redis client is closed")
        except BaseException:
            conn.close()
            raise
        finally:
            self._connecting = None
        self._conn = conn
        return conn

    async def _handshake(self, conn: _Connection) -> None:
        """Connect, then AUTH and SELECT as the URL asks, before any script call."""
        where = f"{self.host}:{self.port}"
        try:
            await conn.loop.create_connection(lambda: conn, self.host, self.port)
        except OSError as exc:
            raise ConnectionError(f"cannot connect to Redis at {where}: {exc}") from exc
        replies = await asyncio.gather(
            *(conn.call(command) for _, command in self._setup), return_exceptions=True
        )
        for (name, _), reply in zip(self._setup, replies, strict=True):
            if isinstance(reply, BaseException):
                raise ConnectionError(f"Redis at {where} refused {name}: {reply}") from reply
