"""An answer's head and body in one write to the client, not two.

uvicorn writes the status line and headers when the app sends `http.response.start`, then the
body at `http.response.body`: two system calls, each waking the client, where one would do (on
loopback a write costs about as much CPU as the gateway's own work on the request). Here the
head waits, within the same response, for the body's first bytes (or the connection's close)
and both go out in one write.
"""

from functools import partial
from typing import Any

from uvicorn._types import ASGISendCallable, ASGISendEvent

from servir_runtime.uvicorn_private import GuardedProtocol

# Bodies up to this size are joined to the head (one copy); larger ones are handed over
# beside it (`writelines`, still one write).
JOIN_BYTES = 16 * 1024
CONTINUE = b"HTTP/1.1 100 "


class HeadHeld:
    """The transport as one response sees it: its head is held until the body comes."""

    __slots__ = ("head", "holding", "inner")

    def __init__(self, inner: Any) -> None:
        self.inner = inner  # the transport, or a view of it (ClosingView)
        self.holding = False  # the next write is the response's head
        self.head: bytes | None = None

    def write(self, data: bytes) -> None:
        """Hold the head; write anything else, after the head when one is held."""
        if self.holding and not data.startswith(CONTINUE):
            self.holding, self.head = False, data
            return
        head, self.head = self.head, None
        if head is None:
            self.inner.write(data)
        elif len(data) <= JOIN_BYTES:
            self.inner.write(head + data)
        else:
            self.inner.writelines((head, data))

    def is_closing(self) -> bool:
        """Whether the transport is closing."""
        return bool(self.inner.is_closing())

    def close(self) -> None:
        """Write a held head, then close."""
        head, self.head = self.head, None
        if head is not None:
            self.inner.write(head)
        self.inner.close()


async def _send(held: HeadHeld, send: ASGISendCallable, message: ASGISendEvent) -> None:
    if message["type"] != "http.response.start":
        await send(message)
        return
    held.holding = True
    try:
        await send(message)
    finally:
        held.holding = False  # uvicorn wrote no head (it refused the message, or wrote elsewhere)


def one_write(protocol: type[GuardedProtocol]) -> type[GuardedProtocol]:
    """`protocol`, writing each answer's head with its body."""

    class OneWrite(protocol):  # type: ignore[valid-type,misc]
        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None:
                held = HeadHeld(cycle.transport)
                cycle.transport = held
                cycle.send = partial(_send, held, cycle.send)

    return OneWrite
