"""V2 inference with one input per feature, named after it (MLServer's pandas codec: each its
own datatype, no packing into BYTES), and with the single input under any name."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from sklearn.pipeline import Pipeline

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.frames import NAME
from tests.model_service.test_v2 import SETOSA, VIRGINICA, infer, outputs, tensor

pytestmark = pytest.mark.anyio
CUSTOMERS: dict[str, tuple[str, list[Any]]] = {
    "tenure_months": ("INT64", [2, 60]),
    "monthly_charges": ("FP64", [110.0, 25.5]),
    "contract": ("BYTES", ["month-to-month", "two-year"]),
    "has_support": ("BOOL", [False, True]),
}


@pytest.fixture
async def served(
    frame_models: tuple[Path, Pipeline], redis_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Pipeline]]:
    """A model-service with the demo bundles and the DataFrame pipeline; the pipeline."""
    store, model = frame_models
    async with serve_in_process(create_app(Settings(models_dir=store, redis_url=redis_url))) as c:
        yield c, model


def column(name: str, datatype: str, values: list[Any], shape: list[int] | None = None) -> Any:
    """One feature's JSON input."""
    return {"name": name, "datatype": datatype, "shape": shape or [len(values)], "data": values}


def customers(**changes: Any) -> list[dict[str, Any]]:
    inputs = [column(name, *entry) for name, entry in CUSTOMERS.items()]
    return [{**tensor, **changes.get(tensor["name"], {})} for tensor in inputs]


async def friendly(client: httpx.AsyncClient, model: str, rows: list[dict[str, Any]]) -> Any:
    answer = await client.post(
        f"/models/{model}/predict", json={"instances": rows}, headers=INTERNAL
    )
    return answer.json()["predictions"]


async def test_one_input_per_feature_with_mixed_datatypes(
    served: tuple[httpx.AsyncClient, Pipeline],
) -> None:
    client, _ = served
    answer = await infer(client, "churn", {"inputs": customers()})
    assert answer.status_code == 200, answer.text
    rows = [
        dict(zip(CUSTOMERS, values, strict=True))
        for values in zip(*(v for _, v in CUSTOMERS.values()), strict=True)
    ]
    assert outputs(answer)["predict"]["data"] == await friendly(client, "churn", rows)


async def test_per_feature_inputs_may_be_columns_in_any_order(
    served: tuple[httpx.AsyncClient, Pipeline],
) -> None:
    client, _ = served
    inputs = customers()
    shaped = [{**tensor, "shape": [2, 1]} for tensor in reversed(inputs)]
    a = await infer(client, "churn", {"inputs": inputs})
    b = await infer(client, "churn", {"inputs": shaped})
    assert outputs(a)["predict"]["data"] == outputs(b)["predict"]["data"]


async def test_fitted_column_names_and_wire_names_name_inputs(
    served: tuple[httpx.AsyncClient, Pipeline],
) -> None:
    client, model = served
    frame = pd.DataFrame({"especie": ["Gato", "Perro"], "peso (kg)": [7.5, 12.0], "edad": [9, 1]})
    expected = model.predict(frame).tolist()
    for weight in ("peso (kg)", "peso_kg"):
        inputs = [
            column("especie", "BYTES", ["Gato", "Perro"]),
            column(weight, "FP32", [7.5, 12.0]),
            column("edad", "INT32", [9, 1]),
        ]
        answer = await infer(client, NAME, {"inputs": inputs})
        assert answer.status_code == 200, answer.text
        assert outputs(answer)["predict"]["data"] == expected


async def test_the_single_input_takes_any_name(served: tuple[httpx.AsyncClient, Pipeline]) -> None:
    client, _ = served
    body = {"inputs": [{**tensor([SETOSA, VIRGINICA]), "name": "features"}]}
    answer = await infer(client, "iris", body)
    assert answer.status_code == 200, answer.text
    assert outputs(answer)["predict"]["data"] == ["setosa", "virginica"]


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        (customers()[:3], "missing has_support"),
        ([*customers(), column("tenure_months", "INT64", [1, 2])], "two inputs"),
        ([*customers()[:3], column("support", "BOOL", [True, False])], "names no feature"),
        (customers(contract={"datatype": "INT64", "data": [1, 2]}), "takes BYTES"),
        (customers(has_support={"shape": [1], "data": [True]}), "same rows"),
        (customers(tenure_months={"data": [2, 601]}), "Row 1, feature tenure_months"),
        (customers(contract={"data": ["month-to-month", "weekly"]}), "'weekly' is not one of"),
        (customers(has_support={"data": [1, 0]}), "BOOL `data` must hold true or false"),
        (customers(tenure_months={"datatype": "INT8", "data": [2, 300]}), "INT8 numbers only"),
        (
            customers(monthly_charges={"datatype": "BYTES", "data": ["cheap", "1"]}),
            "monthly_charges",
        ),
    ],
)
async def test_per_feature_problems_are_400_naming_the_input(
    served: tuple[httpx.AsyncClient, Pipeline], inputs: list[dict[str, Any]], words: str
) -> None:
    client, _ = served
    answer = await infer(client, "churn", {"inputs": inputs})
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["detail"]


async def test_rows_beyond_the_limit_are_422(
    frame_models: tuple[Path, Pipeline], redis_url: str
) -> None:
    settings = Settings(models_dir=frame_models[0], redis_url=redis_url, max_rows=1)
    async with serve_in_process(create_app(settings)) as client:
        answer = await infer(client, "churn", {"inputs": customers()})
    assert answer.status_code == 422
    assert "at most 1 rows" in answer.json()["errors"][0]["msg"]


async def test_tritonclient_sends_one_binary_input_per_feature(
    served: tuple[httpx.AsyncClient, Pipeline],
) -> None:
    client, _ = served
    inputs = []
    for name, (datatype, values) in CUSTOMERS.items():
        dtype = {"INT64": np.int64, "FP64": np.float64, "BYTES": object, "BOOL": bool}[datatype]
        entry = triton.InferInput(name, [len(values)], datatype)
        entry.set_data_from_numpy(np.array(values, dtype=dtype))
        inputs.append(entry)
    body, length = triton.InferenceServerClient.generate_request_body(inputs, None)
    headers = {**INTERNAL, "Inference-Header-Content-Length": str(length)}
    answer = await client.post("/v2/models/churn/infer", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result = triton.InferenceServerClient.parse_response_body(
        answer.content, header_length=answer.headers.get("inference-header-content-length")
    )
    json_answer = await infer(client, "churn", {"inputs": customers()})
    labels = [label.decode() for label in result.as_numpy("predict").tolist()]
    assert labels == outputs(json_answer)["predict"]["data"]
