"""The edge wraps the FastAPI app: lifespan messages pass through to it, its own routes are
FastAPI's, and no method of FastAPI is replaced."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Scope

from gateway.config import Settings
from gateway.deps import gateway_state
from gateway.edge import Edge
from gateway.main import create_app
from tests.conftest import serve_in_process

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


async def lifespan_message(
    inbox: asyncio.Queue[Message], outbox: asyncio.Queue[Message], kind: str
) -> Message:
    await inbox.put({"type": f"lifespan.{kind}"})
    return await outbox.get()


async def test_lifespan_messages_reach_the_fastapi_app(dead_redis_url: str) -> None:
    edge = create_app(Settings(redis_url=dead_redis_url, metrics_port=0))
    assert isinstance(edge, Edge)
    assert isinstance(edge.app, FastAPI)
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    served = asyncio.ensure_future(edge(scope, inbox.get, outbox.put))
    started = await lifespan_message(inbox, outbox, "startup")
    state = gateway_state(edge.app)  # kept by the FastAPI app's lifespan
    transport = httpx.ASGITransport(app=edge)
    async with httpx.AsyncClient(transport=transport, base_url="http://servir.test") as client:
        live = await client.get("/livez")
    stopped = await lifespan_message(inbox, outbox, "shutdown")
    await served
    assert (started["type"], stopped["type"]) == (
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    )
    assert state.settings.redis_url == dead_redis_url
    assert live.status_code == 200


def test_no_method_of_fastapi_is_replaced(dead_redis_url: str) -> None:
    edge = create_app(Settings(redis_url=dead_redis_url))
    for name in ("build_middleware_stack", "openapi", "__call__"):
        assert name not in vars(edge.app), name


def test_the_state_is_unreadable_before_the_lifespan(dead_redis_url: str) -> None:
    edge = create_app(Settings(redis_url=dead_redis_url))
    with pytest.raises(RuntimeError, match="GatewayState"):
        gateway_state(edge.app)


async def test_a_lifespan_through_the_edge_forgets_the_state_it_read(dead_redis_url: str) -> None:
    edge = create_app(Settings(redis_url=dead_redis_url, metrics_port=0))
    async with serve_in_process(edge) as client:
        await client.get("/models")  # forwarded: the forwarder reads the state
        first = edge.forwarder.state
    assert first is gateway_state(edge.app)
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    served = asyncio.ensure_future(edge(scope, inbox.get, outbox.put))
    await lifespan_message(inbox, outbox, "startup")
    assert edge.forwarder.state is None
    await lifespan_message(inbox, outbox, "shutdown")
    await served
