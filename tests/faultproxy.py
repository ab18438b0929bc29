"""A fault-injecting TCP proxy on loopback, for fault tests that need a network fault.

Put it between a client and a server (the client is given the proxy's port) and switch its
mode at any time:

- `pass`: bytes flow both ways as they come.
- `latency`: every chunk is held `latency` seconds before it is passed on (order kept).
- `blackhole`: nothing flows any more, either way, on open or new connections; connections
  stay open (as across a network partition, where TCP keeps retransmitting). New connections
  are accepted but go nowhere. Back to `pass`, the held bytes flow on.
- `reset`: every open connection is reset (RST to both sides) and new ones are reset at once.

A connection whose upstream refuses is reset: a proxy cannot refuse a connection it accepted.
`running_fault_proxy` runs one in a thread of its own for synchronous tests.
"""

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Literal

HOST = "127.0.0.1"
CHUNK = 64 * 1024
Mode = Literal["pass", "latency", "blackhole", "reset"]
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


class _Link:
    """One proxied connection: the client's side, the upstream's side, and their pumps."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def reset(self) -> None:
        for task in self.tasks:
            task.cancel()
        for writer in (self.client, self.upstream):
            if writer is not None:
                reset(writer)


class FaultProxy:
    """Proxies 127.0.0.1:`port` to `target_host`:`target_port`, faults switchable at runtime."""

    def __init__(self, target_port: int, *, target_host: str = HOST) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.latency = 0.0
        self.port = 0
        self.accepted = 0  # connections accepted so far, whatever became of them
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on a free loopback port (`self.port`)."""
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening and reset every open connection."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.reset()
        self._links.clear()
        if self._server is not None:
            await self._server.wait_closed()

    def set_mode(self, mode: Mode, *, latency: float = 0.0) -> None:
        """Switch to `mode`; open connections follow at once."""
        self.mode = mode
        self.latency = latency if mode == "latency" else 0.0
        if mode == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode == "reset":
            for link in list(self._links):
                link.reset()
            self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            await self._flowing.wait()  # a blackhole holds new connections too
            if self.mode == "reset" or link not in self._links:
                reset(writer)
                return
            try:
                up_reader, link.upstream = await asyncio.open_connection(*self.target)
            except OSError:
                reset(writer)
                return
            link.tasks = [
                asyncio.create_task(self._pump(reader, link.upstream, link)),
                asyncio.create_task(self._pump(up_reader, writer, link)),
            ]
            await asyncio.gather(*link.tasks, return_exceptions=True)
            for side in (writer, link.upstream):
                side.close()
        finally:
            self._links.discard(link)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link
    ) -> None:
        """Copy one direction; chunks wait out latency and blackholes, in order. A reset on
        either side resets the other (as the peer's RST would reach it)."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, sink))
        try:
            while data := await source.read(CHUNK):
                queue.put_nowait((time.monotonic() + self.latency, data))
            queue.put_nowait((0.0, b""))  # end of stream: passed on as a half-close
            await deliver
        except (ConnectionError, OSError):
            link.reset()
        finally:
            deliver.cancel()

    async def _deliver(
        self, queue: "asyncio.Queue[tuple[float, bytes]]", sink: asyncio.StreamWriter
    ) -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self._flowing.wait()
            if not data:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            sink.write(data)
            await sink.drain()


class RunningFaultProxy:
    """A `FaultProxy` running on an event loop in a thread of its own."""

    def __init__(self, proxy: FaultProxy, loop: asyncio.AbstractEventLoop) -> None:
        self._proxy = proxy
        self._loop = loop

    @property
    def port(self) -> int:
        """The loopback port clients connect to."""
        return self._proxy.port

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        return self._proxy.accepted

    def set_mode(self, mode: Mode, *, latency: float = 0.0) -> None:
        """Switch mode; returns once the proxy's loop has applied it."""

        async def switch() -> None:
            self._proxy.set_mode(mode, latency=latency)

        asyncio.run_coroutine_threadsafe(switch(), self._loop).result(timeout=5)


@contextlib.contextmanager
def running_fault_proxy(target_port: int) -> Iterator[RunningFaultProxy]:
    """A proxy to 127.0.0.1:`target_port` in a thread, stopped (connections reset) on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
    thread.start()
    proxy = FaultProxy(target_port)
    try:
        asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(timeout=5)
        yield RunningFaultProxy(proxy, loop)
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(proxy.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
