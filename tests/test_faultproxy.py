"""The fault proxy the fault tests rely on: each mode does what it says, switched at runtime."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from servir_runtime.processes import free_port
from tests.faultproxy import HOST, FaultProxy, running_fault_proxy

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def echo_behind_proxy() -> AsyncIterator[FaultProxy]:
    """An echo server, and a fault proxy in front of it."""
    server = await asyncio.start_server(_echo, HOST, 0)
    proxy = FaultProxy(server.sockets[0].getsockname()[1])
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.aclose()
        server.close()
        await server.wait_closed()


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, proxy.port)


async def round_trip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes = b"ping"
) -> bytes:
    writer.write(data)
    return await asyncio.wait_for(reader.readexactly(len(data)), 5)


async def test_pass_forwards_both_ways_and_half_closes() -> None:
    async with echo_behind_proxy() as proxy:
        reader, writer = await connect(proxy)
        assert await round_trip(reader, writer, b"x" * 200_000) == b"x" * 200_000
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the echo's close came back
        writer.close()


async def test_latency_holds_each_direction() -> None:
    async with echo_behind_proxy() as proxy:
        reader, writer = await connect(proxy)
        await round_trip(reader, writer)
        proxy.set_mode("latency", latency=0.2)
        started = time.monotonic()
        assert await round_trip(reader, writer) == b"ping"
        elapsed = time.monotonic() - started
        writer.close()
    assert 0.4 <= elapsed < 1.5  # 0.2 s out, 0.2 s back


async def test_blackhole_holds_open_and_new_connections_until_pass() -> None:
    async with echo_behind_proxy() as proxy:
        reader, writer = await connect(proxy)
        await round_trip(reader, writer)
        proxy.set_mode("blackhole")
        writer.write(b"held")
        new_reader, new_writer = await connect(proxy)  # accepted, then nothing
        new_writer.write(b"late")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 0.5)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(new_reader.readexactly(4), 0.1)
        proxy.set_mode("pass")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
        assert await asyncio.wait_for(new_reader.readexactly(4), 5) == b"late"
        writer.close()
        new_writer.close()


async def test_reset_aborts_open_connections_and_new_ones() -> None:
    async with echo_behind_proxy() as proxy:
        reader, writer = await connect(proxy)
        await round_trip(reader, writer)
        proxy.set_mode("reset")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(round_trip(reader, writer), 5)
        new_reader, new_writer = await connect(proxy)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(round_trip(new_reader, new_writer), 5)
        proxy.set_mode("pass")
        reader, writer = await connect(proxy)
        assert await round_trip(reader, writer) == b"ping"
        writer.close()
    assert proxy.accepted == 3


async def test_an_upstream_that_refuses_resets_the_client() -> None:
    proxy = FaultProxy(free_port())
    await proxy.start()
    try:
        reader, writer = await connect(proxy)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(round_trip(reader, writer), 5)
    finally:
        await proxy.aclose()


def test_running_in_a_thread_serves_synchronous_callers() -> None:
    with (
        socket.create_server((HOST, 0)) as upstream,
        running_fault_proxy(upstream.getsockname()[1]) as proxy,
        socket.create_connection((HOST, proxy.port), timeout=5) as client,
    ):
        server_side, _ = upstream.accept()
        client.sendall(b"hello")
        assert server_side.recv(5) == b"hello"
        proxy.set_mode("reset")
        with pytest.raises(ConnectionResetError):
            client.recv(1)
        server_side.close()
