"""Each model's operations in the OpenAPI document: predict and invocations with the model's
description, examples at typical values, answers typed by its classes, the model's own 500."""

from pathlib import Path
from typing import Any

import pytest
from sklearn.pipeline import Pipeline

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.frames import NAME

pytestmark = pytest.mark.anyio
OPERATIONS = ("predict", "invocations")


@pytest.fixture
async def document(frame_models: tuple[Path, Pipeline], redis_url: str) -> dict[str, Any]:
    """The model-service's document with the demo models and the DataFrame pipeline."""
    settings = Settings(models_dir=frame_models[0], redis_url=redis_url)
    async with serve_in_process(create_app(settings)) as client:
        body: dict[str, Any] = (await client.get("/openapi.json", headers=INTERNAL)).json()
    return body


def operation(document: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path]["post"]
    return found


async def test_every_model_and_version_has_invocations(document: dict[str, Any]) -> None:
    for name in ("iris", "churn", "breast-cancer", NAME):
        for kind in OPERATIONS:
            assert f"/models/{name}/{kind}" in document["paths"]
            assert f"/models/{name}/versions/1/{kind}" in document["paths"]
    assert "/models/{name}/invocations" not in document["paths"]


async def test_operations_carry_the_manifests_description(document: dict[str, Any]) -> None:
    for kind in OPERATIONS:
        found = operation(document, f"/models/iris/{kind}")
        assert found["description"].startswith("Iris species from sepal and petal sizes")


async def test_examples_sit_at_typical_values_never_at_the_upper_bound(
    document: dict[str, Any],
) -> None:
    body = operation(document, "/models/churn/predict")["requestBody"]["content"]
    row = body["application/json"]["example"]["instances"][0]
    assert row["contract"] in ("month-to-month", "one-year", "two-year")
    assert 0 < row["tenure_months"] < 600  # the training mean, not the bound
    assert 20 <= row["monthly_charges"] <= 120
    frame = operation(document, f"/models/{NAME}/invocations")["requestBody"]["content"]
    split = frame["application/json"]["example"]["dataframe_split"]
    example = dict(zip(split["columns"], split["data"][0], strict=True))
    assert example == {"especie": "Gato", "peso_kg": 50.0, "edad": 15}  # middle of the bounds


async def test_answers_are_typed_by_the_models_classes(document: dict[str, Any]) -> None:
    for kind in OPERATIONS:
        answer = operation(document, f"/models/iris/{kind}")["responses"]["200"]["content"]
        predictions = answer["application/json"]["schema"]["properties"]["predictions"]
        assert predictions["items"] == {"enum": ["setosa", "versicolor", "virginica"]}


async def test_every_inference_operation_documents_the_model_error(
    document: dict[str, Any],
) -> None:
    # The V2 operations document it in their own problem shape (test_model_errors.py).
    for path in [f"/models/iris/{kind}" for kind in OPERATIONS]:
        error = operation(document, path)["responses"]["500"]
        assert error["description"].startswith("Model error")
        example = error["content"]["application/problem+json"]["example"]
        assert example["title"] == "Model error"


async def test_invocations_documents_each_mlflow_form(document: dict[str, Any]) -> None:
    body = operation(document, "/models/iris/invocations")["requestBody"]["content"]
    forms = [form["title"] for form in body["application/json"]["schema"]["anyOf"]]
    assert forms == ["dataframe_split", "dataframe_records", "instances", "inputs"]
