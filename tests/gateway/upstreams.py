"""Fault-injecting upstreams for gateway tests: real TCP servers on loopback that answer badly
or not at all, and one that records what reached it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["record", "silent", "garbage"]
REPLY = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: upstream-own\r\n"
    b'connection: keep-alive\r\ncontent-length: 11\r\n\r\n{"ok":true}'
)


@dataclass
class Upstream:
    """A raw HTTP/1.1 server; `requests` holds the head of each request it read."""

    mode: Mode
    url: str = ""
    requests: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests.append(head)
                length = next(
                    (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                     if line.startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                self.bodies.append(await reader.readexactly(length))
                if self.mode == "silent":
                    await asyncio.sleep(3600)
                writer.write(REPLY if self.mode == "record" else b"NOT HTTP AT ALL\r\n\r\n")
                await writer.drain()
                if self.mode == "garbage":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def headers(self, index: int = -1) -> list[tuple[str, str]]:
        """The header lines of a recorded request, names lower-cased."""
        lines = self.requests[index].decode("latin-1").split("\r\n")[1:]
        pairs = [line.split(":", 1) for line in lines if line]
        return [(name.strip().lower(), value.strip()) for name, value in pairs]

    def request_line(self, index: int = -1) -> str:
        """The request line of a recorded request."""
        return self.requests[index].decode("latin-1").split("\r\n")[0]


@asynccontextmanager
async def running_upstream(mode: Mode) -> AsyncIterator[Upstream]:
    """Serve an upstream of the given mode on a free loopback port."""
    upstream = Upstream(mode)
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream.url = f"http://127.0.0.1:{port}"
    async with server:
        yield upstream
        server.close()
