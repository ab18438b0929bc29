"""A model that raises on input fitting its contract: the model's fault, answered as a 500
"Model error" without internals, logged with its traceback, counted (issue 13, item 3)."""

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from model_service.config import Settings
from model_service.demo_models import write_bundle
from model_service.main import create_app
from servir_runtime.logs import JsonFormatter
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio
# Within float32's range, so it fits the contract; its ninth power overflows: numpy warns (an
# error under this suite's warning filter), or the infinity it yields makes the logistic
# regression after the polynomial features raise a ValueError.
HUGE = 1e38
RAISED = re.compile(r"RuntimeWarning: overflow encountered|ValueError: Input X contains infinity")
FEATURES = [{"name": "a", "type": "float"}, {"name": "b", "type": "float"}]
POLYNOMIAL = "sklearn.preprocessing._polynomial.PolynomialFeatures"


@pytest.fixture
async def service(tmp_path: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A model-service serving `powers`, which passes verification (its synthetic rows lie
    around 0) and raises on HUGE; the operator vouches for PolynomialFeatures."""
    store = tmp_path / "models"
    model = make_pipeline(PolynomialFeatures(degree=9), LogisticRegression())
    model.fit(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]), ["no", "yes"] * 2)
    manifest = {"task": "classification", "features": FEATURES}
    write_bundle(store, name="powers", estimator=model, manifest=manifest)
    # scikit-learn serves: it raises on the overflow, where the compiled model answers a label.
    settings = Settings(
        models_dir=store, redis_url=redis_url, unvalidated_types=[POLYNOMIAL], runtime="sklearn"
    )
    async with serve_in_process(create_app(settings)) as client:
        yield client


def assert_model_error(response: httpx.Response, path: str) -> dict[str, object]:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["title"] == "Model error"
    assert body["instance"] == path
    assert body["detail"] == (
        "Model powers version 1 failed on input that fits its contract. "
        "The failure is logged for the model's operators."
    )
    text = response.text.lower()
    for internal in ("overflow", "infinity", "runtimewarning", "valueerror", "traceback"):
        assert internal not in text
    return body


async def test_a_model_raising_on_valid_input_is_a_500_logged_and_counted(
    service: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fine = {"instances": [{"a": 0.5, "b": 0.5}]}
    assert (await service.post("/models/powers/predict", json=fine, headers=INTERNAL)).is_success
    caplog.set_level(logging.ERROR, logger="servir.models")
    huge = {"instances": [{"a": HUGE, "b": 1.0}]}
    path = "/models/powers/predict"
    response = await service.post(path, json=huge, headers=INTERNAL)
    assert_model_error(response, path)
    [record] = [r for r in caplog.records if r.name == "servir.models"]
    assert record.levelno == logging.ERROR
    assert (record.model, record.version) == ("powers", "1")  # type: ignore[attr-defined]
    line = JsonFormatter("model-service").format(record)
    assert "Traceback (most recent call last)" in line
    assert RAISED.search(line)
    metrics = (await service.get("/metrics")).text
    assert 'servir_model_errors_total{kind="model_error",model="powers",version="1"} 1.0' in metrics


async def test_v2_inference_answers_the_same_500(service: httpx.AsyncClient) -> None:
    tensor = {"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [HUGE, 1.0]}
    path = "/v2/models/powers/versions/1/infer"
    response = await service.post(path, json={"inputs": [tensor]}, headers=INTERNAL)
    body = assert_model_error(response, path)
    assert body["error"] == body["detail"]


async def test_the_infer_operations_document_the_500(service: httpx.AsyncClient) -> None:
    document = (await service.get("/openapi.json", headers=INTERNAL)).json()
    for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        answer = document["paths"][path]["post"]["responses"]["500"]
        assert answer["description"].startswith("Model error")
        assert answer["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/V2Problem"
        }
