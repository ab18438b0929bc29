"""Connections that slow or greedy clients cannot hold: deadlines, a cap per client IP and a
lingering close, on top of the bounded head (heads.py).

- The request head must arrive whole within `head_seconds` of the connection's accept (the
  first request) or of its first byte (later ones), as nginx's client_header_timeout; past
  it the connection closes, with a 408 problem+json if part of a head came.
- Each body must arrive whole within `body_seconds` of its head (`long_body_seconds` on
  `long_body_routes`, e.g. uploads): an overall deadline, so a client dripping a byte now and
  then cannot hold it either; past it, 408 problem+json (nginx's client_body_timeout answer)
  and the connection closes.
- A client IP holds at most `max_per_ip` connections; more are closed at accept, before any
  byte is read (as Envoy's connection_limit filter and HAProxy's `tcp-request connection
  reject`); peers in `exempt` (trusted proxies, which carry many clients) are not counted.
- When the gateway answers and closes while the client may still be sending (a 413 or 401
  before the body was read), it stops writing and reads and discards for at most
  `linger_seconds`, `linger_idle_seconds` without data and `linger_max_bytes`, then closes
  (nginx's lingering close): closing at once with unread data makes the kernel reset the
  connection, and a client that writes its whole body before reading (urllib, requests)
  would see a broken pipe instead of the answer.

No timer per request: a connection stores one deadline (a float) and one periodic sweep per
server closes the connections past theirs.
"""

import asyncio
import ipaddress
from collections.abc import Collection, Iterable
from functools import partial
from typing import Any, ClassVar

from uvicorn._types import ASGISendCallable, ASGISendEvent
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from servir_runtime.connection_limits import ConnectionLimits
from servir_runtime.uvicorn_private.heads import BoundedHeadProtocol

# What the connection is waiting for; each phase but IDLE has a deadline.
IDLE, HEAD, BODY, LINGER = 0, 1, 2, 3


class ClosingView:
    """The transport as a request that asked to close sees it: its close lingers if the
    client may still be sending."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: "GuardedProtocol") -> None:
        self._protocol = protocol

    def write(self, data: bytes) -> None:
        """Write to the real transport."""
        self._protocol.transport.write(data)

    def writelines(self, parts: Iterable[bytes]) -> None:
        """Write the parts to the real transport, in one go (a head beside its body)."""
        self._protocol.transport.writelines(parts)

    def is_closing(self) -> bool:
        """Whether the real transport is closing."""
        return self._protocol.transport.is_closing()

    def close(self) -> None:
        """Close, lingering first when the client may still be sending."""
        self._protocol.close_after_answer()


class GuardedProtocol(BoundedHeadProtocol):
    """uvicorn's httptools protocol with the bounded head, deadlines, a cap per IP and a
    lingering close; the limits are class attributes (see `guarded_protocol`)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    per_ip: ClassVar[dict[str, int]] = {}
    sweeper: ClassVar[asyncio.TimerHandle | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = IDLE
        self._deadline = 0.0
        self._ip: str | None = None  # counted against the cap while set
        self._linger_end = 0.0
        self._lingered = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the peer, refusing it beyond the cap; the head's deadline starts now."""
        super().connection_made(transport)
        ip = self.client[0] if self.client else None
        if ip is not None and self.limits.max_per_ip and not self._exempt(ip):
            held = self.per_ip.get(ip, 0)
            if held >= self.limits.max_per_ip:
                transport.close()
                return
            self.per_ip[ip] = held + 1
            self._ip = ip
        self._expect(HEAD, self.limits.head_seconds)
        if type(self).sweeper is None:
            self._schedule_sweep()

    def connection_lost(self, exc: Exception | None) -> None:
        """Uncount the peer."""
        if self._ip is not None:
            held = self.per_ip.pop(self._ip, 1) - 1
            if held > 0:
                self.per_ip[self._ip] = held
            self._ip = None
        self._phase = IDLE
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse, or discard while lingering."""
        if self._phase == LINGER:
            self._discard(len(data))
        else:
            super().data_received(data)

    def on_message_begin(self) -> None:
        """A later request's head starts (the first one's deadline runs from the accept)."""
        super().on_message_begin()
        if self._phase == IDLE:
            self._expect(HEAD, self.limits.head_seconds)

    def on_headers_complete(self) -> None:
        """The head is whole: its body's deadline starts."""
        super().on_headers_complete()
        route = (self.scope.get("method"), self.scope.get("path"))
        long = route in self.limits.long_body_routes
        self._expect(BODY, self.limits.long_body_seconds if long else self.limits.body_seconds)
        cycle = self.cycle
        if cycle is not None:
            cycle.send = partial(self._send, cycle, cycle.send)  # type: ignore[method-assign]
            if not cycle.keep_alive:
                cycle.transport = ClosingView(self)  # type: ignore[assignment]

    async def _send(
        self, cycle: RequestResponseCycle, send: ASGISendCallable, message: ASGISendEvent
    ) -> None:
        """The app's send: an answer started before its request's body came in whole closes
        the connection after lingering, so it says `connection: close` (RFC 9112 9.6);
        otherwise a client would send its next request on it and see that cut."""
        early = message["type"] == "http.response.start" and self._phase == BODY
        if early and self.cycle is cycle and cycle.keep_alive:
            cycle.keep_alive = False
            cycle.transport = ClosingView(self)  # type: ignore[assignment]
        await send(message)

    def on_message_complete(self) -> None:
        """The body is whole: no deadline until the next request (uvicorn's keep-alive)."""
        super().on_message_complete()
        self._phase = IDLE

    def on_response_complete(self) -> None:
        """Answered before the body came in whole: drain it, then close."""
        if self._phase == BODY and not self.transport.is_closing():
            self._linger()
        if self._phase == LINGER:
            self.server_state.total_requests += 1
        else:
            super().on_response_complete()

    def close_after_answer(self) -> None:
        """Close, lingering first when the client may still be sending."""
        if self._phase in (HEAD, BODY) and not self.transport.is_closing():
            self._linger()
        else:
            self.transport.close()

    def _expect(self, phase: int, seconds: float) -> None:
        self._phase = phase
        self._deadline = self.loop.time() + seconds

    def _linger(self) -> None:
        now = self.loop.time()
        self._phase = LINGER
        self._linger_end = now + self.limits.linger_seconds
        self._deadline = min(self._linger_end, now + self.limits.linger_idle_seconds)
        self._lingered = 0
        try:
            self.transport.write_eof()  # the answer goes out, then FIN; reading goes on
        except (OSError, RuntimeError, NotImplementedError):
            self.transport.close()
            return
        self.flow.resume_reading()

    def _discard(self, size: int) -> None:
        self._lingered += size
        if self._lingered > self.limits.linger_max_bytes:
            self.transport.close()
            return
        self._deadline = min(self._linger_end, self.loop.time() + self.limits.linger_idle_seconds)

    def _expire(self) -> None:
        """The deadline passed: 408 if a head or body is cut short and nothing else is being
        answered on this connection, then close."""
        phase, self._phase = self._phase, IDLE
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = self.pipeline or (cycle is not None and not cycle.response_complete)
        if phase == BODY and cycle is not None:
            cycle.disconnected = True  # the application's receive() ends with a disconnect
            cycle.message_event.set()
            answering = self.pipeline or cycle.response_started
        if ((phase == HEAD and self._in_head) or phase == BODY) and not answering:
            part = "head" if phase == HEAD else "body"
            self.write_problem(408, "Request Timeout", f"The request {part} came too slowly.")
        self.transport.close()

    def _exempt(self, ip: str) -> bool:
        if not self.limits.exempt:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.limits.exempt)

    def _schedule_sweep(self) -> None:
        cls = type(self)
        cls.sweeper = self.loop.call_later(
            self.limits.sweep_seconds, cls.sweep, self.connections, self.loop
        )

    @classmethod
    def sweep(cls, connections: Collection[object], loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections past their deadline; run again while any is open."""
        now = loop.time()
        expired = [
            conn
            for conn in connections
            if isinstance(conn, GuardedProtocol) and conn._phase and conn._deadline <= now
        ]
        for conn in expired:
            conn._expire()
        if connections:
            cls.sweeper = loop.call_later(cls.limits.sweep_seconds, cls.sweep, connections, loop)
        else:
            cls.sweeper = None


def guarded_protocol(
    *, max_header_bytes: int, max_headers: int, limits: ConnectionLimits
) -> type[GuardedProtocol]:
    """The protocol class for uvicorn's `http=` with these limits."""
    attributes = {
        "max_bytes": max_header_bytes,
        "max_headers": max_headers,
        "limits": limits,
        "per_ip": {},
        "sweeper": None,
    }
    return type("GuardedProtocol", (GuardedProtocol,), attributes)
