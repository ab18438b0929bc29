"""The shared service plumbing: request ids, problem+json, the internal guard, logs, OpenAPI."""

import json

import pytest
from fastapi import FastAPI

from servir_runtime.app import build_service_app
from servir_runtime.settings import DEV_INTERNAL_TOKEN, ServiceSettings
from shared_schemas import Contract
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio


class Row(Contract):
    x: float


class Rows(Contract):
    rows: list[Row]


def make_app(*, internal: bool = False, sample: float = 0.0) -> FastAPI:
    settings = ServiceSettings(access_log_sample=sample, redis_url="redis://127.0.0.1:1/0")
    app = build_service_app(service="test", title="t", settings=settings, internal=internal)

    @app.post("/rows")
    async def rows(body: Rows) -> Rows:
        return body

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("db password is hunter2")

    @app.get("/v2/thing")
    async def thing(n: int) -> int:
        return n

    return app


async def test_unknown_path_is_problem_json_with_request_id() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["instance"] == "/nope"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_method_not_allowed_names_allowed_methods() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.delete("/livez")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["title"] == "Method Not Allowed"


async def test_method_not_allowed_names_every_route_of_the_path() -> None:
    app = make_app()

    @app.get("/rows")
    async def list_rows() -> list[Row]:
        return []

    async with serve_in_process(app) as client:
        response = await client.put("/rows")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_validation_error_names_row_and_field() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.post("/rows", json={"rows": [{"x": 1.0}, {"x": "high"}]})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["loc"] == ["body", "rows", 1, "x"]
    assert "rows.1.x" in body["detail"]


async def test_malformed_json_is_422_problem() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.post(
            "/rows", content=b'{"rows": [', headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unexpected_exception_is_500_problem_without_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert response.json()["request_id"] == "boom-1"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    error = next(line for line in logged if line["msg"] == "unhandled error")
    assert error["request_id"] == "boom-1"
    assert "RuntimeError" in error["exc"]


async def test_caller_request_id_comes_back() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.get("/livez", headers={"X-Request-ID": "abc.DEF-123"})
    assert response.headers["x-request-id"] == "abc.DEF-123"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, 'quote"d', ""])
async def test_malformed_request_id_is_replaced(bad: str) -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.get("/livez", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_internal_service_refuses_requests_without_token() -> None:
    async with serve_in_process(make_app(internal=True)) as client:
        refused = await client.post("/rows", json={"rows": []})
        forged = await client.post(
            "/rows", json={"rows": []}, headers={"X-Servir-Internal-Token": "guess"}
        )
        allowed = await client.post("/rows", json={"rows": []}, headers=INTERNAL)
        live = await client.get("/livez")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert forged.status_code == 401
    assert allowed.status_code == 200
    assert live.status_code == 200


async def test_v2_errors_carry_protocol_error_field() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.get("/v2/thing", params={"n": "many"})
    assert response.status_code == 422
    assert response.json()["error"] == response.json()["detail"]


async def test_access_log_is_one_json_line_with_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with serve_in_process(make_app(sample=1.0)) as client:
        await client.get("/livez", headers={"X-Request-ID": "log-me"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    access = [line for line in lines if line["msg"] == "request"]
    assert len(access) == 1
    assert access[0]["request_id"] == "log-me"
    assert access[0]["status"] == 200
    assert access[0]["path"] == "/livez"


async def test_access_log_sample_zero_logs_no_success(capsys: pytest.CaptureFixture[str]) -> None:
    async with serve_in_process(make_app(sample=0.0)) as client:
        for _ in range(20):
            await client.get("/livez")
    assert '"msg":"request"' not in capsys.readouterr().out


async def test_a_huge_field_name_is_cut_short_in_the_422() -> None:
    async with serve_in_process(make_app()) as client:
        response = await client.post("/rows", json={"rows": [{"x": 1.0, "y" * 70_000: 2}]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "rows", 0, "y" * 200 + "..."]


async def test_openapi_documents_problem_bodies() -> None:
    async with serve_in_process(make_app()) as client:
        schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert {"Problem", "V2Problem", "FieldError"} <= components.keys()
    invalid = schema["paths"]["/rows"]["post"]["responses"]["422"]["content"]
    assert invalid["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    v2 = schema["paths"]["/v2/thing"]["get"]["responses"]["422"]["content"]
    assert v2["application/problem+json"]["schema"]["$ref"].endswith("/V2Problem")


async def test_openapi_gives_errors_declared_by_description_the_problem_body() -> None:
    app = make_app()

    @app.delete("/rows/{row}", status_code=204, responses={404: {"description": "No such row"}})
    async def delete_row(row: int) -> None:
        return None

    async with serve_in_process(app) as client:
        schema = (await client.get("/openapi.json")).json()
    missing = schema["paths"]["/rows/{row}"]["delete"]["responses"]["404"]
    assert missing["description"] == "No such row"
    assert missing["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_production_refuses_development_internal_token() -> None:
    with pytest.raises(ValueError, match="SERVIR_INTERNAL_TOKEN"):
        ServiceSettings(env="production", internal_token=DEV_INTERNAL_TOKEN)  # type: ignore[arg-type]


def test_production_accepts_a_real_internal_token() -> None:
    settings = ServiceSettings(env="production", internal_token="s" * 40)  # type: ignore[arg-type]
    assert settings.internal_token.get_secret_value() == "s" * 40
