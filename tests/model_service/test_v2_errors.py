"""Malformed v2 requests: a 4xx problem carrying the protocol's `error`, never a 500."""

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from model_service.config import Settings
from model_service.demo_models import write_bundle
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_v2 import CUSTOMER, SETOSA, tensor, v2
from tests.model_service.test_v2_binary import binary_body, binary_input, strings

pytestmark = pytest.mark.anyio
__all__ = ["v2"]  # the fixture, shared with test_v2
FP64_ROW = np.array([SETOSA], dtype="<f8")


def json_case(body: Any, model: str = "iris") -> tuple[str, bytes, dict[str, str]]:
    """A JSON request to `model`."""
    return model, json.dumps(body).encode(), dict(INTERNAL)


def binary_case(
    array: np.ndarray, datatype: str, extra: bytes = b"", size: int | None = None
) -> Any:
    """A binary request to iris, its bytes possibly padded and its size possibly misstated."""
    entry, raw = binary_input(array, datatype)
    if size is not None:
        entry["parameters"]["binary_data_size"] = size
    body, headers = binary_body({"inputs": [entry]}, raw + extra)
    return "iris", body, headers


def bytes_case(cells: list[str], blob: bytes | None = None) -> Any:
    """A BYTES request to churn, binary when `blob` is given."""
    if blob is None:
        return json_case({"inputs": [tensor([cells], "BYTES")]}, "churn")
    entry = {"name": "input", "shape": [1, 4], "datatype": "BYTES",
             "parameters": {"binary_data_size": len(blob)}}  # fmt: skip
    body, headers = binary_body({"inputs": [entry]}, blob)
    return "churn", body, headers


ROW = tensor([SETOSA])
CASES_400: dict[str, Any] = {
    "too few columns": json_case({"inputs": [tensor([[1.0, 2.0, 3.0]])]}),
    "one-dimensional shape": json_case({"inputs": [{**ROW, "shape": [4]}]}),
    "zero rows": json_case({"inputs": [{**ROW, "shape": [0, 4], "data": []}]}),
    "data not matching shape": json_case({"inputs": [{**ROW, "shape": [2, 4]}]}),
    "INT32 datatype": json_case({"inputs": [tensor([SETOSA], "INT32")]}),
    "BYTES to a numeric model": json_case({"inputs": [tensor([["1", "2", "3", "4"]], "BYTES")]}),
    "numbers to a category model": json_case({"inputs": [tensor([[1, 2, 3, 4]])]}, "churn"),
    "fractions in INT64": json_case({"inputs": [tensor([SETOSA], "INT64")]}),
    "strings in FP64": json_case({"inputs": [tensor([["a", "b", "c", "d"]])]}),
    "booleans among FP64 numbers": json_case({"inputs": [tensor([[5.1, True, 1.4, 0.2]])]}),
    "booleans among INT64 numbers": json_case({"inputs": [tensor([[5, 3, 1, False]], "INT64")]}),
    "ragged data": json_case({"inputs": [{**ROW, "data": [[1.0, 2.0], [3.0]]}]}),
    "value above maximum": json_case({"inputs": [tensor([[500.0, 1.0, 1.0, 1.0]])]}),
    "value below minimum": json_case({"inputs": [tensor([[-1.0, 1.0, 1.0, 1.0]])]}),
    "finite but past float32 for a forest": json_case(
        {"inputs": [tensor([[1e300] * 30])]}, "breast-cancer"
    ),
    "two inputs": json_case({"inputs": [ROW, ROW]}),
    "an input naming no feature": json_case({"inputs": [{**ROW, "name": "x"}, ROW]}),
    "unknown output": json_case({"inputs": [ROW], "outputs": [{"name": "logits"}]}),
    "repeated output": json_case({"inputs": [ROW], "outputs": [{"name": "predict"}] * 2}),
    "classification": json_case(
        {"inputs": [ROW], "outputs": [{"name": "predict", "parameters": {"classification": 2}}]}
    ),
    "non-bool binary_data": json_case(
        {"inputs": [ROW], "outputs": [{"name": "predict", "parameters": {"binary_data": 1}}]}
    ),
    "no data at all": json_case({"inputs": [{k: v for k, v in ROW.items() if k != "data"}]}),
    "binary NaN": binary_case(np.array([[np.nan, 1, 1, 1]]), "FP64"),
    "binary infinity": binary_case(np.array([[1, np.inf, 1, 1]], dtype="<f4"), "FP32"),
    "FP32 bytes declared FP64": binary_case(FP64_ROW.astype("<f4"), "FP64"),
    "binary size larger than body": binary_case(FP64_ROW, "FP64", size=64),
    "binary size smaller than tensor": binary_case(FP64_ROW, "FP64", extra=b"x" * 8, size=24),
    "unclaimed binary bytes": binary_case(FP64_ROW, "FP64", extra=b"\0" * 8),
    "unknown category": bytes_case([*CUSTOMER[:2], "weekly", "false"]),
    "bad bool": bytes_case([*CUSTOMER[:3], "maybe"]),
    "fractional int": bytes_case(["2.5", *CUSTOMER[1:]]),
    "non-number": bytes_case([CUSTOMER[0], "cheap", *CUSTOMER[2:]]),
    "truncated BYTES binary": bytes_case([], strings(CUSTOMER)[:-3]),
    "too few BYTES elements": bytes_case([], strings(CUSTOMER[:3])),
    "non-UTF-8 BYTES": bytes_case([], strings(CUSTOMER[:3]) + b"\4\0\0\0\xff\xfe\xfd\xfc"),
}


def assert_protocol_error(response: httpx.Response, status: int) -> None:
    """The status, problem+json, and `error` equal to `detail`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["error"] == body["detail"]
    assert body["status"] == status


@pytest.mark.parametrize("case", CASES_400)
async def test_bad_tensors_are_400_with_error(v2: httpx.AsyncClient, case: str) -> None:
    model, body, headers = CASES_400[case]
    response = await v2.post(f"/v2/models/{model}/infer", content=body, headers=headers)
    assert_protocol_error(response, 400)


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_finite_json_numbers_are_400(v2: httpx.AsyncClient, number: bytes) -> None:
    data = b"[[" + number + b", 1, 1, 1]]"
    body = b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": ' + data
    response = await v2.post("/v2/models/iris/infer", content=body + b"}]}", headers=INTERNAL)
    assert_protocol_error(response, 400)
    assert "not a finite number" in response.json()["error"]


@pytest.mark.parametrize("header", ["abc", "-1", "0", "100000"])
async def test_bad_header_length_is_400(v2: httpx.AsyncClient, header: str) -> None:
    model, body, headers = binary_case(FP64_ROW, "FP64")
    headers["Inference-Header-Content-Length"] = header
    response = await v2.post(f"/v2/models/{model}/infer", content=body, headers=headers)
    assert_protocol_error(response, 400)


# b"\xb2" reaches the app as "²" (latin-1), which str.isdigit accepts and int() refuses;
# 5,000 digits pass isdigit too and exceed int()'s digit limit.
@pytest.mark.parametrize("header", [b"\xb2", b"1\xb2", b"\xd9\xa3", b"9" * 5000, b"+10"])
async def test_a_non_ascii_or_huge_header_length_is_400_not_500(
    v2: httpx.AsyncClient, header: bytes
) -> None:
    model, body, headers = binary_case(FP64_ROW, "FP64")
    sent = {key.lower().encode(): value.encode() for key, value in headers.items()}
    sent[b"inference-header-content-length"] = header
    response = await v2.post(f"/v2/models/{model}/infer", content=body, headers=sent)
    assert_protocol_error(response, 400)


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"inputs": []}', b'{"inputs": 1}'])
async def test_invalid_request_bodies_are_422(v2: httpx.AsyncClient, body: bytes) -> None:
    response = await v2.post("/v2/models/iris/infer", content=body, headers=INTERNAL)
    assert_protocol_error(response, 422)
    assert response.json()["errors"]


async def test_a_huge_field_name_is_422_naming_it_cut_short(v2: httpx.AsyncClient) -> None:
    key = "k" * 70_000  # longer than any string a contract holds
    body = {"inputs": [ROW], "outputs": [{"name": "predict", "parameters": {key: [1]}}]}
    response = await v2.post("/v2/models/iris/infer", content=json.dumps(body), headers=INTERNAL)
    assert_protocol_error(response, 422)
    loc = response.json()["errors"][0]["loc"]
    assert loc[:5] == ["body", "outputs", 0, "parameters", "k" * 200 + "..."]


async def test_rows_beyond_the_limit_are_422_naming_it(v2: httpx.AsyncClient) -> None:
    model, body, headers = binary_case(np.tile(FP64_ROW, (1001, 1)), "FP64")
    response = await v2.post(f"/v2/models/{model}/infer", content=body, headers=headers)
    assert_protocol_error(response, 422)
    assert "1000" in response.json()["error"]


async def test_unknown_model_and_version_are_404(v2: httpx.AsyncClient) -> None:
    body = json.dumps({"inputs": [ROW]})
    unknown = await v2.post("/v2/models/nope/infer", content=body, headers=INTERNAL)
    version = await v2.post("/v2/models/iris/versions/9/infer", content=body, headers=INTERNAL)
    metadata = await v2.get("/v2/models/nope", headers=INTERNAL)
    for response in (unknown, version, metadata):
        assert_protocol_error(response, 404)


async def test_compressed_body_is_415(v2: httpx.AsyncClient) -> None:
    headers = {**INTERNAL, "Content-Encoding": "gzip"}
    response = await v2.post("/v2/models/iris/infer", content=b"\x1f\x8b", headers=headers)
    assert_protocol_error(response, 415)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_declared_neither_json_nor_binary_is_415(
    v2: httpx.AsyncClient, content_type: str
) -> None:
    body = json.dumps({"inputs": [ROW]})
    headers = {**INTERNAL, "Content-Type": content_type}
    response = await v2.post("/v2/models/iris/infer", content=body, headers=headers)
    assert_protocol_error(response, 415)


async def test_probabilities_of_a_regressor_are_400(
    demo_models: Path, tmp_path: Path, redis_url: str
) -> None:
    store = tmp_path / "models"
    shutil.copytree(demo_models / "iris", store / "iris")
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    estimator = LinearRegression().fit(x, x.sum(axis=1))
    features = [{"name": n, "type": "float"} for n in ("a", "b")]
    manifest = {"task": "regression", "features": features}
    write_bundle(store, name="sum", estimator=estimator, manifest=manifest)
    settings = Settings(models_dir=store, redis_url=redis_url)
    async with serve_in_process(create_app(settings)) as client:
        metadata = (await client.get("/v2/models/sum", headers=INTERNAL)).json()
        asked = {"inputs": [tensor([[1.0, 2.0]])], "outputs": [{"name": "predict_proba"}]}
        refused = await client.post("/v2/models/sum/infer", json=asked, headers=INTERNAL)
        answered = await client.post(
            "/v2/models/sum/infer", json={"inputs": [tensor([[1.0, 2.0]])]}, headers=INTERNAL
        )
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    assert_protocol_error(refused, 400)
    assert answered.json()["outputs"][0]["data"] == pytest.approx([3.0])
