"""One name per status: RFC 9110's "Unprocessable Content" (422) and "Content Too Large" (413)
in every problem title, status line and OpenAPI document, never RFC 7231's names beside them."""

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http import httptools_impl

import servir_runtime.server  # noqa: F401 (what every service's serve() imports)
from auth_service.config import Settings as AuthSettings
from auth_service.main import create_app as create_auth_app
from model_service.config import Settings as ModelSettings
from model_service.main import create_app as create_model_app
from servir_runtime.processes import HOST, free_port
from tests.conftest import INTERNAL, serve_in_process

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
OLD_NAMES = ("Unprocessable Entity", "Request Entity Too Large", "Payload Too Large")
ADMIN = {**INTERNAL, "X-Servir-Principal": "admin", "X-Servir-Scopes": "users:admin"}
NOT_JSON = b'{"username": "\xff'
INVALID = {"username": 5}


async def test_the_merged_openapi_says_no_old_name(merged_openapi: dict[str, Any]) -> None:
    document = json.dumps(merged_openapi)
    assert [name for name in OLD_NAMES if name in document] == []


async def test_status_lines_say_rfc_9110s_names() -> None:
    assert httptools_impl.STATUS_LINE[413] == b"HTTP/1.1 413 Content Too Large\r\n"
    assert httptools_impl.STATUS_LINE[422] == b"HTTP/1.1 422 Unprocessable Content\r\n"


async def _raw_post(port: int, path: str, body: bytes) -> tuple[bytes, dict[str, Any]]:
    """The status line and the JSON body of a POST to a real socket."""
    reader, writer = await asyncio.open_connection(HOST, port)
    head = f"POST {path} HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in ADMIN.items())
    writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    writer.write(body)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return status_line, json.loads(rest.split(b"\r\n\r\n", 1)[1])


async def test_the_auth_services_422s_on_the_wire(redis_url: str, tmp_path: Path) -> None:
    settings = AuthSettings(
        redis_url=redis_url.rsplit("/", 1)[0] + "/6",
        keys_dir=tmp_path / "keys",
        admin_password="admin-password-for-tests",  # type: ignore[arg-type]
    )
    port = free_port()
    config = uvicorn.Config(
        create_auth_app(settings), host=HOST, port=port, http="httptools", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the auth-service stopped at start"
            await asyncio.sleep(0.01)
        answers = [
            await _raw_post(port, "/auth/users", body)
            for body in (NOT_JSON, json.dumps(INVALID).encode())
        ]
    finally:
        server.should_exit = True
        await task
    for status_line, problem in answers:
        assert status_line == b"HTTP/1.1 422 Unprocessable Content"
        assert problem["title"] == "Unprocessable Content"


async def test_the_model_services_422s(demo_models: Path, tmp_path: Path, redis_url: str) -> None:
    store = tmp_path / "models"
    shutil.copytree(demo_models, store)
    app = create_model_app(ModelSettings(models_dir=store, redis_url=redis_url))
    headers = {**INTERNAL, "content-type": "application/json"}
    async with serve_in_process(app) as client:
        answers: list[httpx.Response] = [
            await client.post("/models/iris/predict", content=NOT_JSON, headers=headers),
            await client.post("/models/iris/predict", json={"rows": 5}, headers=INTERNAL),
            await client.post("/v2/models/iris/infer", json={"inputs": 5}, headers=INTERNAL),
        ]
    assert [answer.status_code for answer in answers] == [422] * len(answers)
    assert {answer.json()["title"] for answer in answers} == {"Unprocessable Content"}
