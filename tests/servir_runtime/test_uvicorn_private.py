"""The private surface of uvicorn that servir_runtime.uvicorn_private relies on, checked on the
installed uvicorn: an upgrade that renames or reshapes any of it fails here, by name, rather
than as an obscure failure of the behaviour tests (test_heads.py, gateway/test_connections.py)
or in production."""

import asyncio
import importlib.metadata
import inspect
import tomllib
from collections import deque
from pathlib import Path
from typing import Any

import httptools
import pytest
import uvicorn
from packaging.requirements import Requirement
from starlette.types import Receive, Scope, Send
from uvicorn import _types
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

# The methods uvicorn_private overrides or calls, with their parameters.
METHODS = {
    "__init__": ["self", "config", "server_state", "app_state", "_loop"],
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "send_400_response": ["self", "msg"],
    "on_message_begin": ["self"],
    "on_url": ["self", "url"],
    "on_header": ["self", "name", "value"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
    "on_response_complete": ["self"],
}
# What connections.py reads or replaces on a request's cycle.
CYCLE_ATTRIBUTES = (
    "send",
    "transport",
    "keep_alive",
    "response_started",
    "response_complete",
    "disconnected",
    "message_event",
)


class FakeTransport(asyncio.Transport):
    """A connection from 127.0.0.1:5000 that keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def no_content(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def connected(protocol_class: type[HttpToolsProtocol]) -> tuple[HttpToolsProtocol, FakeTransport]:
    config = uvicorn.Config(no_content, log_config=None, proxy_headers=False)
    protocol = protocol_class(config, ServerState(), {}, asyncio.get_running_loop())
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def test_the_installed_uvicorn_is_within_the_pinned_range() -> None:
    project = tomllib.loads((ROOT / "service-runtime" / "pyproject.toml").read_text())
    pins = [Requirement(dep) for dep in project["project"]["dependencies"]]
    (uvicorn_pin,) = [pin for pin in pins if pin.name == "uvicorn"]
    assert uvicorn_pin.specifier, "uvicorn must be pinned to the versions checked here"
    assert importlib.metadata.version("uvicorn") in uvicorn_pin.specifier


@pytest.mark.parametrize(("name", "parameters"), METHODS.items())
def test_the_methods_overridden_or_called_keep_their_parameters(
    name: str, parameters: list[str]
) -> None:
    method = getattr(HttpToolsProtocol, name)
    assert list(inspect.signature(method).parameters) == parameters


def test_status_lines_are_whole_lines_by_status() -> None:
    status_line = httptools_impl.STATUS_LINE
    assert status_line[400] == b"HTTP/1.1 400 Bad Request\r\n"
    assert status_line[408] == b"HTTP/1.1 408 Request Timeout\r\n"
    assert status_line[431] == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


def test_the_asgi_types_imported_for_annotations_exist() -> None:
    assert _types.ASGISendCallable is not None
    assert _types.ASGISendEvent is not None


async def test_a_connection_has_the_state_read_at_accept() -> None:
    protocol, transport = connected(HttpToolsProtocol)
    assert protocol.transport is transport
    assert protocol.client == ("127.0.0.1", 5000)
    assert protocol.loop is asyncio.get_running_loop()
    assert protocol in protocol.connections
    assert protocol.connections is protocol.server_state.connections
    assert isinstance(protocol.server_state.default_headers, list)
    assert isinstance(protocol.server_state.total_requests, int)
    assert isinstance(protocol.pipeline, deque)
    assert callable(protocol.flow.resume_reading)
    assert getattr(protocol, "cycle", "missing") is None  # no request yet


async def test_a_request_head_fills_url_headers_scope_and_a_cycle() -> None:
    protocol, transport = connected(HttpToolsProtocol)
    protocol.data_received(b"POST /v1/x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n")
    assert protocol.url == b"/v1/x?y=1"
    assert protocol.headers == [(b"host", b"a"), (b"content-length", b"2")]
    assert (protocol.scope["method"], protocol.scope["path"]) == ("POST", "/v1/x")
    cycle = protocol.cycle
    assert isinstance(cycle, RequestResponseCycle)
    for attribute in CYCLE_ATTRIBUTES:
        assert hasattr(cycle, attribute), attribute
    assert cycle.keep_alive is True
    # The cycle calls back the protocol's method, so a subclass's override is the one called.
    assert cycle.on_response == protocol.on_response_complete
    protocol.data_received(b"{}")
    await asyncio.sleep(0.01)  # the application answers
    assert transport.written.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert protocol.server_state.total_requests == 1


async def test_a_parser_error_raised_in_a_callback_is_answered_by_send_400_response() -> None:
    refused: list[str] = []

    class Refusing(HttpToolsProtocol):
        def on_header(self, name: bytes, value: bytes) -> None:
            raise httptools.HttpParserError("refused")

        def send_400_response(self, msg: str) -> None:
            refused.append(msg)

    protocol, _ = connected(Refusing)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert len(refused) == 1
