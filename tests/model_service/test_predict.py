"""The friendly JSON API: each model's typed contract, errors naming row and field, limits."""

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 7.7, "sepal_width": 2.6, "petal_length": 6.9, "petal_width": 2.3}
CUSTOMER = {
    "tenure_months": 2,
    "monthly_charges": 110.0,
    "contract": "month-to-month",
    "has_support": False,
}


async def predict(client: httpx.AsyncClient, name: str, body: Any) -> httpx.Response:
    return await client.post(f"/models/{name}/predict", json=body, headers=INTERNAL)


async def test_iris_answers_label_names_with_probabilities(models: httpx.AsyncClient) -> None:
    response = await predict(
        models, "iris", {"instances": [SETOSA, VIRGINICA], "return_probabilities": True}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["predictions"] == ["setosa", "virginica"]
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert body["version"] == "1"
    assert len(body["probabilities"]) == 2
    assert all(abs(sum(row) - 1) < 1e-9 for row in body["probabilities"])


async def test_categorical_model_takes_its_enum(models: httpx.AsyncClient) -> None:
    response = await predict(models, "churn", {"instances": [CUSTOMER]})
    assert response.status_code == 200
    assert response.json()["predictions"] in (["leave"], ["stay"])
    assert response.json()["probabilities"] is None


@pytest.mark.parametrize(
    ("instance", "field", "kind"),
    [
        ({**CUSTOMER, "contract": "weekly"}, "contract", "enum"),
        ({**CUSTOMER, "tenure_months": 2.5}, "tenure_months", "int_type"),
        ({**CUSTOMER, "monthly_charges": "cheap"}, "monthly_charges", "float_type"),
        ({**CUSTOMER, "monthly_charges": True}, "monthly_charges", "float_type"),
        ({**CUSTOMER, "has_support": "yes"}, "has_support", "bool_type"),
        ({**CUSTOMER, "tenure_months": -1}, "tenure_months", "greater_than_equal"),
        ({**CUSTOMER, "surprise": 1}, "surprise", "extra_forbidden"),
        ({k: v for k, v in CUSTOMER.items() if k != "contract"}, "contract", "missing"),
    ],
)
async def test_invalid_rows_are_422_naming_row_and_field(
    models: httpx.AsyncClient, instance: dict[str, Any], field: str, kind: str
) -> None:
    response = await predict(models, "churn", {"instances": [CUSTOMER, instance]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert errors[0]["loc"] == ["body", "instances", 1, field]
    assert errors[0]["type"] == kind
    assert f"instances.1.{field}" in response.json()["detail"]


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_finite_numbers_are_422(models: httpx.AsyncClient, number: bytes) -> None:
    body = (
        b'{"instances": [{"sepal_length": '
        + number
        + b', "sepal_width": 1, "petal_length": 1, "petal_width": 1}]}'
    )
    response = await models.post(
        "/models/iris/predict",
        content=body,
        headers={**INTERNAL, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "sepal_length"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_not_declared_json_is_415(
    models: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = dict(INTERNAL)
    if content_type is not None:
        headers["content-type"] = content_type
    body = json.dumps({"instances": [SETOSA]})
    response = await models.post("/models/iris/predict", content=body, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


async def test_rows_beyond_the_limit_are_422_naming_it(model_settings: Settings) -> None:
    small = model_settings.model_copy(update={"max_rows": 3})
    async with serve_in_process(create_app(small)) as client:
        response = await predict(client, "iris", {"instances": [SETOSA] * 4})
    assert response.status_code == 422
    assert "at most 3" in response.json()["errors"][0]["msg"]


async def test_unknown_model_and_version_are_404(models: httpx.AsyncClient) -> None:
    assert (await predict(models, "nope", {"instances": [SETOSA]})).status_code == 404
    response = await models.post(
        "/models/iris/versions/9/predict", json={"instances": [SETOSA]}, headers=INTERNAL
    )
    assert response.status_code == 404


async def test_metadata_publishes_features_classes_and_schema(models: httpx.AsyncClient) -> None:
    body = (await models.get("/models/churn", headers=INTERNAL)).json()
    assert body["default_version"] == "1"
    assert [f["name"] for f in body["features"]] == [
        "tenure_months",
        "monthly_charges",
        "contract",
        "has_support",
    ]
    assert body["input_schema"]["$defs"]["ChurnContract"]["enum"] == [
        "month-to-month",
        "one-year",
        "two-year",
    ]
    assert body["input_schema"]["properties"]["tenure_months"]["maximum"] == 600


async def test_openapi_has_a_typed_path_per_model(models: httpx.AsyncClient) -> None:
    schema = (await models.get("/openapi.json", headers=INTERNAL)).json()
    body = schema["paths"]["/models/iris/predict"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert body["schema"]["$ref"] == "#/components/schemas/IrisPredictRequest"
    instance = schema["components"]["schemas"]["IrisInstance"]
    assert instance["properties"]["sepal_length"]["maximum"] == 100.0
    assert "ChurnContract" in schema["components"]["schemas"]
    # A malformed multipart upload is a documented 400 (schemathesis found it undocumented).
    upload = schema["paths"]["/models"]["post"]["responses"]
    assert "application/problem+json" in upload["400"]["content"]


async def test_openapi_types_each_version_and_leaves_templates_out(
    store: Path, model_settings: Settings
) -> None:
    second = store / "iris" / "2"
    shutil.copytree(store / "iris" / "1", second)
    manifest = json.loads((second / "manifest.json").read_text())
    manifest["version"] = "2"
    manifest["features"][0]["max"] = 50.0  # a different contract from version 1's
    (second / "manifest.json").write_text(json.dumps(manifest))
    async with serve_in_process(create_app(model_settings)) as client:
        schema = (await client.get("/openapi.json", headers=INTERNAL)).json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    assert "/models/{name}/predict" not in paths
    assert "/models/{name}/versions/{version}/predict" not in paths

    def request_of(path: str) -> str:
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        name: str = body["schema"]["$ref"].rsplit("/", 1)[-1]
        return name

    assert request_of("/models/iris/versions/1/predict") == "IrisPredictRequest"
    assert request_of("/models/iris/versions/2/predict") == "IrisPredictRequestV2"
    # No production alias (both were in the store at start): the lowest version is the default.
    assert request_of("/models/iris/predict") == "IrisPredictRequest"
    assert components["IrisInstanceV2"]["properties"]["sepal_length"]["maximum"] == 50.0
    assert components["IrisInstance"]["properties"]["sepal_length"]["maximum"] == 100.0
    assert "PredictResponse" in components


async def test_hundreds_of_concurrent_callers_each_get_their_own_rows(
    models: httpx.AsyncClient,
) -> None:
    samples = [SETOSA, VIRGINICA]
    bodies = [{"instances": [samples[(i + j) % 2] for j in range(1 + i % 3)]} for i in range(300)]
    answers = await asyncio.gather(*(predict(models, "iris", body) for body in bodies))
    for body, answer in zip(bodies, answers, strict=True):
        expected = ["setosa" if row is SETOSA else "virginica" for row in body["instances"]]
        assert answer.json()["predictions"] == expected
    metrics = (await models.get("/metrics")).text
    batches = [
        line for line in metrics.splitlines() if line.startswith("servir_model_batch_rows_count")
    ]
    requests = [
        line
        for line in metrics.splitlines()
        if line.startswith('servir_model_requests_total{model="iris"')
    ]
    assert float(requests[0].split()[-1]) == 300
    assert float(batches[0].split()[-1]) < 300  # some requests were served together


async def test_one_bad_request_does_not_touch_its_neighbours(models: httpx.AsyncClient) -> None:
    good = [predict(models, "iris", {"instances": [SETOSA]}) for _ in range(20)]
    bad = [
        predict(models, "iris", {"instances": [{**SETOSA, "sepal_length": "x"}]}) for _ in range(5)
    ]
    answers = await asyncio.gather(*good, *bad)
    assert [a.status_code for a in answers] == [200] * 20 + [422] * 5


async def test_numbers_past_float32_are_422_naming_the_field(models: httpx.AsyncClient) -> None:
    metadata = (await models.get("/models/breast-cancer", headers=INTERNAL)).json()
    names = [feature["name"] for feature in metadata["features"]]
    huge = {**dict.fromkeys(names, 1.0), names[-1]: 1.7976931348623157e308}  # finite float64
    response = await predict(models, "breast-cancer", {"instances": [huge]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "instances", 0, names[-1]]
    maximum = metadata["input_schema"]["properties"][names[-1]]["maximum"]
    assert maximum == float(np.finfo(np.float32).max)


async def test_a_huge_unknown_field_is_422_naming_it_cut_short(models: httpx.AsyncClient) -> None:
    response = await predict(models, "iris", {"instances": [{**SETOSA, "x" * 70_000: 1}]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "instances", 0, "x" * 200 + "..."]


async def test_integral_numbers_fit_int_features(models: httpx.AsyncClient) -> None:
    response = await predict(models, "churn", {"instances": [{**CUSTOMER, "tenure_months": 2.0}]})
    assert response.status_code == 200


async def test_metrics_count_errors_and_out_of_range_inputs(models: httpx.AsyncClient) -> None:
    await predict(models, "iris", {"instances": [{**SETOSA, "petal_length": 50.0}]})
    await predict(models, "iris", {"instances": [{**SETOSA, "petal_length": "x"}]})
    text = (await models.get("/metrics")).text
    drift = 'servir_model_inputs_out_of_training_range_total{feature="petal_length",'
    assert drift + 'model="iris",version="1"} 1.0' in text
    assert 'servir_model_errors_total{kind="invalid_input",model="iris",version="1"} 1.0' in text
    assert "servir_model_request_seconds_bucket" in text


PREDICT_PATHS = ["/models/iris/predict", "/models/iris/versions/1/predict", "/models/nope/predict"]
NOT_POST = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]


async def test_a_predict_path_answers_other_methods_405_allowing_post(
    models: httpx.AsyncClient,
) -> None:
    for path in PREDICT_PATHS:
        for method in NOT_POST:
            response = await models.request(method, path, headers=INTERNAL)
            assert response.status_code == 405
            assert response.headers["allow"] == "POST"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json() == {
                "type": "about:blank",
                "title": "Method Not Allowed",
                "status": 405,
                "detail": f"{method} is not allowed on {path}.",
                "instance": path,
                "request_id": response.headers["x-request-id"],
            }
        response = await models.head(path, headers=INTERNAL)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_predict_path_with_a_trailing_slash_redirects_to_the_path_without(
    models: httpx.AsyncClient,
) -> None:
    redirects = {
        "/models/iris/predict/": "/models/iris/predict",
        "/models/iris/versions/1/predict/?x=1": "/models/iris/versions/1/predict?x=1",
        "/models/nope/predict//": "/models/nope/predict",
    }
    for path, target in redirects.items():
        for method in ["POST", "GET"]:
            response = await models.request(method, path, headers=INTERNAL, json={})
            assert response.status_code == 307
            assert response.headers["location"] == str(models.base_url).rstrip("/") + target
            assert response.content == b""
