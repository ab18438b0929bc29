"""The binary tensor data extension, built and read by hand as Triton defines it."""

import json
import struct
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import INTERNAL
from tests.model_service.test_v2 import CUSTOMER, SETOSA, VIRGINICA, v2

pytestmark = pytest.mark.anyio
__all__ = ["v2"]  # the fixture, shared with test_v2


def binary_body(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    """A JSON header followed by raw tensor bytes, and the headers announcing it."""
    head = json.dumps(header).encode()
    headers = {
        **INTERNAL,
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream",
    }
    return head + b"".join(blobs), headers


def binary_input(array: np.ndarray, datatype: str) -> tuple[dict[str, Any], bytes]:
    """The `input` tensor sent as binary, and its bytes."""
    raw = array.tobytes()
    entry = {
        "name": "input",
        "shape": list(array.shape),
        "datatype": datatype,
        "parameters": {"binary_data_size": len(raw)},
    }
    return entry, raw


def strings(values: list[str]) -> bytes:
    """A BYTES tensor's binary form: each element's 4-byte little-endian length, then it."""
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def read_response(response: httpx.Response) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON header and each binary output's bytes, by name."""
    size = int(response.headers["inference-header-content-length"])
    header = json.loads(response.content[:size])
    blobs, offset = {}, size
    for output in header["outputs"]:
        length = output.get("parameters", {}).get("binary_data_size")
        if length is not None:
            blobs[output["name"]] = response.content[offset : offset + length]
            offset += length
    assert offset == len(response.content)
    return header, blobs


async def test_binary_request_and_response_round_trip(v2: httpx.AsyncClient) -> None:
    entry, raw = binary_input(np.array([SETOSA, VIRGINICA], dtype="<f8"), "FP64")
    asked = [
        {"name": "predict", "parameters": {"binary_data": True}},
        {"name": "predict_proba", "parameters": {"binary_data": True}},
    ]
    body, headers = binary_body({"inputs": [entry], "outputs": asked}, raw)
    response = await v2.post("/v2/models/iris/infer", content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    header, blobs = read_response(response)
    predict, proba = header["outputs"]
    assert (predict["datatype"], predict["shape"]) == ("BYTES", [2])
    assert blobs["predict"] == strings(["setosa", "virginica"])
    assert (proba["datatype"], proba["shape"]) == ("FP64", [2, 3])
    probabilities = np.frombuffer(blobs["predict_proba"], dtype="<f8").reshape(2, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0].argmax() == 0


async def test_binary_data_output_makes_every_output_binary(v2: httpx.AsyncClient) -> None:
    entry, raw = binary_input(np.array([SETOSA], dtype="<f4"), "FP32")
    request = {"inputs": [entry], "parameters": {"binary_data_output": True}}
    body, headers = binary_body(request, raw)
    response = await v2.post("/v2/models/iris/versions/1/infer", content=body, headers=headers)
    answer, blobs = read_response(response)
    assert [output["name"] for output in answer["outputs"]] == ["predict"]
    assert blobs["predict"] == strings(["setosa"])


async def test_binary_input_with_json_output(v2: httpx.AsyncClient) -> None:
    entry, raw = binary_input(np.array([VIRGINICA], dtype="<i8"), "INT64")
    asked = [{"name": "predict_proba", "parameters": {"binary_data": False}}]
    body, headers = binary_body({"inputs": [entry], "outputs": asked}, raw)
    response = await v2.post("/v2/models/iris/infer", content=body, headers=headers)
    assert response.headers["content-type"] == "application/json"
    assert "inference-header-content-length" not in response.headers
    (proba,) = response.json()["outputs"]
    assert proba["name"] == "predict_proba"
    assert len(proba["data"]) == 3


async def test_binary_bytes_tensor_of_a_category_model(v2: httpx.AsyncClient) -> None:
    raw = strings(CUSTOMER)
    entry = {
        "name": "input",
        "shape": [1, 4],
        "datatype": "BYTES",
        "parameters": {"binary_data_size": len(raw)},
    }
    body, headers = binary_body({"inputs": [entry]}, raw)
    response = await v2.post("/v2/models/churn/infer", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] in (["leave"], ["stay"])
