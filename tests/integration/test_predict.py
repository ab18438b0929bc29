"""Predictions end to end through the gateway: scopes, typed errors, metadata."""

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import bearer, new_user

pytestmark = pytest.mark.integration
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture(scope="module")
def predictor(stack: RunningStack) -> dict[str, str]:
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        return bearer(new_user(client, stack, "predictor")[1])


def test_user_predicts_through_the_gateway(
    gateway: httpx.Client, predictor: dict[str, str]
) -> None:
    response = gateway.post(
        "/models/iris/predict",
        json={"instances": [SETOSA], "return_probabilities": True},
        headers={**predictor, "X-Request-ID": "predict-1"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["predictions"] == ["setosa"]
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert response.headers["x-request-id"] == "predict-1"


def test_versioned_and_categorical_predictions(
    gateway: httpx.Client, predictor: dict[str, str]
) -> None:
    customer = {
        "tenure_months": 60,
        "monthly_charges": 25.0,
        "contract": "two-year",
        "has_support": True,
    }
    response = gateway.post(
        "/models/churn/versions/1/predict", json={"instances": [customer]}, headers=predictor
    )
    assert response.status_code == 200
    assert response.json()["version"] == "1"


def test_invalid_rows_come_back_as_422_naming_row_and_field(
    gateway: httpx.Client, predictor: dict[str, str]
) -> None:
    rows = [SETOSA, {**SETOSA, "petal_width": "wide"}]
    response = gateway.post("/models/iris/predict", json={"instances": rows}, headers=predictor)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["body", "instances", 1, "petal_width"]


def test_listing_and_metadata_need_models_read(gateway: httpx.Client, stack: RunningStack) -> None:
    _, reader = new_user(gateway, stack, "reader", scopes=["models:read"])
    listed = gateway.get("/models", headers=bearer(reader)).json()
    assert {model["name"] for model in listed} >= {"iris", "breast-cancer", "churn"}
    iris = gateway.get("/models/iris", headers=bearer(reader)).json()
    assert iris["input_schema"]["title"] == "IrisInstance"
    denied = gateway.post(
        "/models/iris/predict", json={"instances": [SETOSA]}, headers=bearer(reader)
    )
    assert denied.status_code == 403
    assert gateway.get("/models").status_code == 401


def test_model_admin_routes_need_models_admin(
    gateway: httpx.Client, predictor: dict[str, str]
) -> None:
    upload = gateway.post("/models", files={"bundle": ("b.tar.gz", b"x")}, headers=predictor)
    delete = gateway.delete("/models/iris/versions/1", headers=predictor)
    unload = gateway.post("/v2/repository/models/iris/unload", headers=predictor)
    assert (upload.status_code, delete.status_code, unload.status_code) == (403, 403, 403)
