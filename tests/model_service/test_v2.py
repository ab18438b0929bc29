"""Open Inference Protocol v2 model endpoints: metadata, readiness, JSON inference."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio
SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [7.7, 2.6, 6.9, 2.3]
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CUSTOMER = ["2", "110.0", "month-to-month", "false"]


@pytest.fixture
async def v2(demo_models: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A model-service over the demo bundles (read only)."""
    settings = Settings(models_dir=demo_models, redis_url=redis_url)
    async with serve_in_process(create_app(settings)) as client:
        yield client


def tensor(rows: list[list[Any]], datatype: str = "FP64") -> dict[str, Any]:
    """The JSON input tensor `input` holding `rows`."""
    return {"name": "input", "shape": [len(rows), len(rows[0])], "datatype": datatype, "data": rows}


async def infer(client: httpx.AsyncClient, name: str, body: Any, **headers: str) -> httpx.Response:
    """POST a JSON inference request."""
    return await client.post(
        f"/v2/models/{name}/infer", content=json.dumps(body), headers={**INTERNAL, **headers}
    )


def outputs(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """The JSON response's outputs by name."""
    return {output["name"]: output for output in response.json()["outputs"]}


async def test_metadata_describes_tensors_of_a_classifier(v2: httpx.AsyncClient) -> None:
    response = await v2.get("/v2/models/iris", headers=INTERNAL)
    assert response.status_code == 200
    assert response.json() == {
        "name": "iris",
        "versions": ["1"],
        "platform": "onnxruntime",  # iris serves compiled
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [
            {"name": "predict", "datatype": "BYTES", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
        ],
    }


async def test_metadata_of_a_category_model_asks_for_bytes(v2: httpx.AsyncClient) -> None:
    response = await v2.get("/v2/models/churn/versions/1", headers=INTERNAL)
    assert response.json()["inputs"] == [{"name": "input", "datatype": "BYTES", "shape": [-1, 4]}]
    assert response.json()["versions"] == ["1"]


async def test_ready_is_200_for_a_model_and_404_for_unknown(v2: httpx.AsyncClient) -> None:
    ready = await v2.get("/v2/models/iris/ready", headers=INTERNAL)
    version = await v2.get("/v2/models/iris/versions/1/ready", headers=INTERNAL)
    unknown = await v2.get("/v2/models/nope/ready", headers=INTERNAL)
    no_version = await v2.get("/v2/models/iris/versions/7/ready", headers=INTERNAL)
    assert (ready.status_code, version.status_code) == (200, 200)
    assert (unknown.status_code, no_version.status_code) == (404, 404)
    assert unknown.json()["error"] == unknown.json()["detail"]


async def test_json_infer_answers_labels_only_by_default(v2: httpx.AsyncClient) -> None:
    response = await infer(v2, "iris", {"inputs": [tensor([SETOSA, VIRGINICA])]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["model_name"], body["model_version"]) == ("iris", "1")
    assert body["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [2], "data": ["setosa", "virginica"]}
    ]


async def test_json_infer_with_probabilities_matches_friendly_api(v2: httpx.AsyncClient) -> None:
    asked = [{"name": "predict"}, {"name": "predict_proba"}]
    response = await infer(v2, "iris", {"inputs": [tensor([SETOSA, VIRGINICA])], "outputs": asked})
    friendly = await v2.post(
        "/models/iris/predict",
        json={
            "instances": [dict(zip(IRIS, row, strict=True)) for row in (SETOSA, VIRGINICA)],
            "return_probabilities": True,
        },
        headers=INTERNAL,
    )
    proba = outputs(response)["predict_proba"]
    assert proba["shape"] == [2, 3]
    assert proba["datatype"] == "FP64"
    assert proba["data"] == pytest.approx(np.ravel(friendly.json()["probabilities"]).tolist())
    assert outputs(response)["predict"]["data"] == friendly.json()["predictions"]


async def test_response_id_is_the_requests_id_else_the_request_id(v2: httpx.AsyncClient) -> None:
    body = {"inputs": [tensor([SETOSA])]}
    named = await infer(v2, "iris", {**body, "id": "mine-1"}, **{"X-Request-ID": "req-1"})
    unnamed = await infer(v2, "iris", body, **{"X-Request-ID": "req-2"})
    assert named.json()["id"] == "mine-1"
    assert unnamed.json()["id"] == "req-2"
    assert unnamed.headers["x-request-id"] == "req-2"


@pytest.mark.parametrize(
    ("datatype", "row"), [("FP32", SETOSA), ("INT64", [5, 3, 1, 0]), ("FP64", [5, 3, 1, 0])]
)
async def test_fp32_and_int64_tensors_are_accepted(
    v2: httpx.AsyncClient, datatype: str, row: list[Any]
) -> None:
    response = await infer(v2, "iris", {"inputs": [tensor([row], datatype)]})
    assert response.status_code == 200
    assert outputs(response)["predict"]["data"] == ["setosa"]


async def test_a_category_model_takes_strings_like_the_friendly_api(
    v2: httpx.AsyncClient,
) -> None:
    loyal = ["60", "25.5", "two-year", "true"]
    response = await infer(v2, "churn", {"inputs": [tensor([CUSTOMER, loyal], "BYTES")]})
    instances = [
        {"tenure_months": 2, "monthly_charges": 110.0, "contract": "month-to-month",
         "has_support": False},
        {"tenure_months": 60, "monthly_charges": 25.5, "contract": "two-year", "has_support": True},
    ]  # fmt: skip
    friendly = await v2.post(
        "/models/churn/predict", json={"instances": instances}, headers=INTERNAL
    )
    assert response.status_code == 200
    assert outputs(response)["predict"]["data"] == friendly.json()["predictions"]


async def test_metrics_count_v2_requests_and_errors(v2: httpx.AsyncClient) -> None:
    await infer(v2, "iris", {"inputs": [tensor([SETOSA])]})
    await infer(v2, "iris", {"inputs": [tensor([[1.0, 2.0]])]})
    await infer(v2, "iris", {"inputs": [tensor([[500.0, 2.0, 3.0, 4.0]])]})
    text = (await v2.get("/metrics")).text
    assert 'servir_model_requests_total{model="iris",version="1"} 3.0' in text
    assert 'servir_model_errors_total{kind="invalid_input",model="iris",version="1"} 2.0' in text
    assert 'servir_model_request_seconds_count{model="iris",version="1"} 1.0' in text
