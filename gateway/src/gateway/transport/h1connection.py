"""One keep-alive HTTP/1.1 connection as an asyncio protocol, replies parsed by httptools.

The wire types live here too (`H1Reply` and the `H1Error` family), since the connection
produces them; `gateway.transport.h1client` re-exports them with the pool.
"""

import asyncio
import socket
from dataclasses import dataclass
from typing import cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

Headers = list[tuple[bytes, bytes]]
_FRAMING = (b"content-length", b"transfer-encoding")


@dataclass(frozen=True, slots=True)
class H1Reply:
    """A whole reply: status, headers as received (names as the server spelt them), body."""

    status: int
    headers: Headers
    body: bytes


class H1Error(Exception):
    """A request to the upstream failed."""


class ConnectFailed(H1Error):
    """No connection to the upstream: nothing was sent, another replica may take the request."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class NotSent(ConnectFailed):
    """Nothing was written (pool closed or full, or the connection closed before the write)."""


class ReadTimeout(H1Error):
    """The request was sent but no whole reply came in time."""


class BadReply(H1Error):
    """Invalid HTTP, or the connection closed after the request and before the whole reply."""


class H1Connection(asyncio.Protocol):
    """One connection carrying one request at a time; `send` returns a future of the reply."""

    __slots__ = (
        "_body",
        "_deadline",
        "_head",
        "_headers",
        "_loop",
        "_parser",
        "_reply",
        "_skip_body",
        "_status",
        "_timer",
        "_timer_at",
        "_transport",
        "answered",
        "closed",
        "idle_since",
        "keep_alive",
    )

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = HttpResponseParser(self)
        self._reply: asyncio.Future[H1Reply] | None = None
        self._head = False
        self._skip_body = False
        self._status = 0
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.closed = False  # EOF, reset or closed here: never write again
        self.answered = False  # a byte of the current reply arrived
        self.keep_alive = False  # the last reply allows another request
        self.idle_since = 0.0

    def send(self, data: bytes, *, head: bool, timeout: float) -> "asyncio.Future[H1Reply]":
        """Write one request; the future gets its reply, or BadReply / ReadTimeout."""
        if self.closed or self._transport is None or self._transport.is_closing():
            raise NotSent("the connection closed before the request was written")
        self._reply = reply = self._loop.create_future()
        self._head = head
        self.answered = False
        self.keep_alive = False
        # One timer per connection, moved only when a deadline comes sooner than it.
        self._deadline = deadline = self._loop.time() + timeout
        if self._timer is None or self._timer_at > deadline:
            self._arm()
        self._transport.write(data)
        return reply

    def close(self) -> None:
        """Close after anything unsent is written."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close at once; a pending reply is forgotten."""
        self.closed = True
        self._reply = None
        if self._transport is not None:
            self._transport.abort()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = self._deadline
        self._timer = self._loop.call_at(self._deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        if self._reply is None:
            return
        if self._loop.time() < self._deadline:
            self._arm()
        else:
            self._fail(ReadTimeout("no whole reply within the timeout"))

    def _fail(self, error: H1Error) -> None:
        reply = self._reply
        self.abort()
        if reply is not None and not reply.done():
            reply.set_exception(error)

    def _complete(self) -> None:
        reply, self._reply = self._reply, None
        if reply is not None and not reply.done():
            reply.set_result(H1Reply(self._status, self._headers, b"".join(self._body)))

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._reply is None:  # bytes nobody asked for: the stream can't be trusted
            self.abort()
            return
        self.answered = True
        try:
            self._parser.feed_data(data)
        except (HttpParserError, HttpParserUpgrade) as exc:
            self._fail(BadReply(f"invalid HTTP reply: {exc}"))
        if self._skip_body:  # after a HEAD reply the parser still awaits its announced body
            self._skip_body = False
            self._parser = HttpResponseParser(self)

    def eof_received(self) -> None:
        self.closed = True
        self._end()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._end()

    def _end(self) -> None:
        """The server closed: that ends a body without framing, and fails anything else."""
        if self._reply is None:
            return
        if self._status and not any(name.lower() in _FRAMING for name, _ in self._headers):
            self.keep_alive = False
            self._complete()
        else:
            self._fail(BadReply("the connection closed before the whole reply"))

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._skip_body:  # a HEAD reply followed by more bytes
            self.keep_alive = False
        self._status = 0
        self._headers = []
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        if self._head and self._status >= 200:
            self._skip_body = True
            self.keep_alive = self._parser.should_keep_alive()
            self._complete()

    def on_body(self, body: bytes) -> None:
        if self._skip_body:
            self.keep_alive = False
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._skip_body:
            return
        if self._status < 200:  # an interim reply such as 100 Continue: the real one follows
            self._status = 0
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._complete()
