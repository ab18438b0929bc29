"""V2 inference on the fast path answers exactly what FastAPI's router answered for it.

The same requests go to the service as it runs (the fast path in front of the router) and to
the same app with the fast path taken out (every request through the router and its problem
handlers): status, headers and body must be byte for byte the same.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from model_service.config import Settings
from model_service.fastpath import PredictFastPath
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_v2 import SETOSA, VIRGINICA, tensor
from tests.model_service.test_v2_binary import binary_body, binary_input

pytestmark = pytest.mark.anyio
# Headers that must match; others (date, server) are the transport's.
COMPARED = (
    "content-type",
    "content-length",
    "allow",
    "location",
    "inference-header-content-length",
)
REQUEST_ID = {"X-Request-Id": "req-fast"}
JSON_BODY = {"inputs": [tensor([SETOSA, VIRGINICA])]}
PROBA = {**JSON_BODY, "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}


@pytest.fixture
async def both(
    demo_models: Path, redis_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The service with its fast path, and the same service through the router alone."""
    settings = Settings(models_dir=demo_models, redis_url=redis_url, max_body_bytes=4096)
    fast = create_app(settings)
    routed = create_app(settings)
    fast_path: object = PredictFastPath
    routed.user_middleware = [m for m in routed.user_middleware if m.cls is not fast_path]
    async with serve_in_process(fast) as fast_client, serve_in_process(routed) as routed_client:
        yield fast_client, routed_client


def _binary() -> tuple[bytes, dict[str, str]]:
    entry, raw = binary_input(np.array([SETOSA], dtype=np.float32), "FP32")
    header = {
        "inputs": [entry],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
    }
    return binary_body(header, raw)


def _cases() -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(method, path, body, headers) of answers and of every kind of refusal."""
    plain = {**INTERNAL, **REQUEST_ID, "Content-Type": "application/json"}
    body = json.dumps(JSON_BODY).encode()
    binary, binary_headers = _binary()
    cases = [
        ("POST", "/v2/models/iris/infer", body, plain),
        ("POST", "/v2/models/iris/versions/1/infer", json.dumps(PROBA).encode(), plain),
        ("POST", "/v2/models/iris/infer", binary, {**binary_headers, **REQUEST_ID}),
        ("POST", "/v2/models/iris/infer", binary[:-2], {**binary_headers, **REQUEST_ID}),
        ("POST", "/v2/models/iris/infer", body, {**INTERNAL, **REQUEST_ID}),
        ("POST", "/v2/models/iris/infer", body, {**plain, "Content-Type": "text/plain"}),
        ("POST", "/v2/models/iris/infer", body, {**plain, "Content-Encoding": "gzip"}),
        ("POST", "/v2/models/iris/infer", b"{not json", plain),
        ("POST", "/v2/models/iris/infer", b"x" * 5000, plain),
        ("POST", "/v2/models/iris/infer", body, {**plain, "Inference-Header-Content-Length": "x"}),
        ("POST", "/v2/models/nope/infer", body, plain),
        ("POST", "/v2/models/iris/versions/9/infer", body, plain),
        (
            "POST",
            "/v2/models/iris/infer",
            json.dumps({"inputs": [tensor([[1.0]])]}).encode(),
            plain,
        ),
        ("POST", "/v2/models/churn/infer", json.dumps(JSON_BODY).encode(), plain),
        ("POST", "/v2/models/iris/infer", body, {**REQUEST_ID, "Content-Type": "application/json"}),
    ]
    for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]:
        cases.append((method, "/v2/models/iris/infer", b"", plain))
        cases.append((method, "/v2/models/iris/versions/1/infer", b"", plain))
    for path in ["/v2/models/iris/infer/", "/v2/models/iris/versions/1/infer//?x=1"]:
        cases.extend([("POST", path, body, plain), ("GET", path, b"", plain)])
    return cases


async def test_the_fast_path_answers_v2_inference_as_the_router_did(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    fast, routed = both
    for method, path, body, headers in _cases():
        ours = await fast.request(method, path, content=body, headers=headers)
        theirs = await routed.request(method, path, content=body, headers=headers)
        where = f"{method} {path} {headers}"
        assert ours.status_code == theirs.status_code, where
        assert _shown(ours) == _shown(theirs), where
        assert ours.content == theirs.content, where


async def test_the_fast_path_serves_v2_inference(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    fast, _ = both
    headers = {**INTERNAL, **REQUEST_ID}
    response = await fast.post("/v2/models/iris/infer", json=PROBA, headers=headers)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert answer["id"] == "req-fast"
    assert answer["outputs"][0]["data"] == ["setosa", "virginica"]
    assert response.headers["x-request-id"] == "req-fast"


def _shown(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in COMPARED}
