"""Fault-injecting upstreams for gateway tests: real TCP servers on loopback that answer badly
or not at all, one that records what reached it, and JSON answers for chosen paths (a JWKS,
an introspection endpoint) whatever the mode."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["record", "silent", "garbage"]
REPLY = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: upstream-own\r\n"
    b'connection: keep-alive\r\ncontent-length: 11\r\n\r\n{"ok":true}'
)
# A handler gets the request body and answers a status and a JSON body.
Handler = Callable[[bytes], tuple[int, bytes]]


def json_reply(status: int, body: bytes) -> bytes:
    """A keep-alive HTTP/1.1 response carrying a JSON body."""
    head = (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
        f"connection: keep-alive\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Upstream:
    """A raw HTTP/1.1 server; `requests` holds the head of each request it read, except those
    a handler answered, whose paths go to `handled`."""

    mode: Mode
    url: str = ""
    requests: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)  # seconds before a handler answers
    handled: list[str] = field(default_factory=list)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                     if line.startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                body = await reader.readexactly(length)
                path = head.decode("latin-1").split(" ")[1].split("?")[0]
                if (handler := self.handlers.get(path)) is not None:
                    self.handled.append(path)
                    await asyncio.sleep(self.delays.get(path, 0))
                    writer.write(json_reply(*handler(body)))
                    await writer.drain()
                    continue
                self.requests.append(head)
                self.bodies.append(body)
                if self.mode == "silent":
                    await asyncio.sleep(3600)
                writer.write(REPLY if self.mode == "record" else b"NOT HTTP AT ALL\r\n\r\n")
                await writer.drain()
                if self.mode == "garbage":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def headers(self, index: int = -1) -> list[tuple[str, str]]:
        """The header lines of a recorded request, names lower-cased."""
        lines = self.requests[index].decode("latin-1").split("\r\n")[1:]
        pairs = [line.split(":", 1) for line in lines if line]
        return [(name.strip().lower(), value.strip()) for name, value in pairs]

    def request_line(self, index: int = -1) -> str:
        """The request line of a recorded request."""
        return self.requests[index].decode("latin-1").split("\r\n")[0]

    def stop(self) -> None:
        """Stop listening and drop every open connection, as a crashed service would."""
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.close()

    def forwarded(self) -> list[int]:
        """Indexes of the requests the gateway forwarded (they all carry an X-Request-ID)."""
        return [i for i in range(len(self.requests)) if "x-request-id" in dict(self.headers(i))]


@asynccontextmanager
async def running_upstream(
    mode: Mode, handlers: dict[str, Handler] | None = None, delays: dict[str, float] | None = None
) -> AsyncIterator[Upstream]:
    """Serve an upstream of the given mode on a free loopback port."""
    upstream = Upstream(mode, handlers=handlers or {}, delays=delays or {})
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream.url = f"http://127.0.0.1:{port}"
    upstream.server = server
    async with server:
        yield upstream
        upstream.stop()
