"""MLflow's scoring protocol at `/models/{name}/invocations` (and the same bodies on
`/predict`), on a DataFrame-fitted pipeline and on an ndarray model: every form gives the
predictions the estimator gives, and bad bodies are 422 naming the row and the field."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.frames import NAME

pytestmark = pytest.mark.anyio
PETS = pd.DataFrame(
    {"especie": ["Gato", "Perro", "Gato"], "peso (kg)": [7.5, 12.0, 3.9], "edad": [9, 1, 4]}
)
WIRE = {"especie": "especie", "peso (kg)": "peso_kg", "edad": "edad"}
SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [7.7, 2.6, 6.9, 2.3]
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
async def served(
    frame_models: tuple[Path, Pipeline], redis_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Pipeline]]:
    """A model-service with the demo bundles and the DataFrame pipeline; the pipeline."""
    store, model = frame_models
    async with serve_in_process(create_app(Settings(models_dir=store, redis_url=redis_url))) as c:
        yield c, model


def records(frame: pd.DataFrame, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The frame's rows as objects, its columns renamed by `names`."""
    rows = frame.rename(columns=names or {}).to_dict(orient="records")
    return [{str(key): value for key, value in row.items()} for row in rows]


def frame_bodies() -> dict[str, Any]:
    """Every JSON form of MLflow's protocol for PETS, by fitted or by wire names."""
    split = json.loads(PETS.to_json(orient="split"))
    by_column = {name: PETS[name].tolist() for name in PETS.columns}
    return {
        "split": {"dataframe_split": split},
        "split by wire names": {"dataframe_split": {**split, "columns": list(WIRE.values())}},
        "records": {"dataframe_records": records(PETS)},
        "records by wire names": {"dataframe_records": records(PETS, WIRE)},
        "instances": {"instances": records(PETS, WIRE)},
        "instances by fitted names": {"instances": records(PETS)},
        "instances as lists": {"instances": PETS.values.tolist()},
        "inputs as columns": {"inputs": by_column},
        "inputs as rows": {"inputs": PETS.values.tolist(), "params": {}},
    }


async def post(client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    return await client.post(path, json=body, headers=INTERNAL)


@pytest.mark.parametrize("form", sorted(frame_bodies()))
async def test_every_json_form_predicts_as_the_fitted_pipeline(
    served: tuple[httpx.AsyncClient, Pipeline], form: str
) -> None:
    client, model = served
    expected = model.predict(PETS).tolist()
    body = frame_bodies()[form]
    answer = await post(client, f"/models/{NAME}/invocations", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected}
    versioned = await post(client, f"/models/{NAME}/versions/1/invocations", body)
    assert versioned.json() == {"predictions": expected}
    ours = await post(client, f"/models/{NAME}/predict", body)
    assert ours.status_code == 200, ours.text
    assert ours.json()["predictions"] == expected
    assert ours.json()["classes"] == model.classes_.tolist()


async def test_csv_with_a_header_row(served: tuple[httpx.AsyncClient, Pipeline]) -> None:
    client, model = served
    headers = {**INTERNAL, "content-type": "text/csv"}
    answer = await client.post(
        f"/models/{NAME}/invocations", content=PETS.to_csv(index=False), headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": model.predict(PETS).tolist()}
    by_wire = PETS.rename(columns=WIRE).to_csv(index=False)
    ours = await client.post(f"/models/{NAME}/predict", content=by_wire, headers=headers)
    assert ours.json()["predictions"] == model.predict(PETS).tolist()


async def test_probabilities_come_with_mlflow_bodies_on_predict(
    served: tuple[httpx.AsyncClient, Pipeline],
) -> None:
    client, model = served
    body = {**frame_bodies()["split"], "return_probabilities": True}
    answer = await post(client, f"/models/{NAME}/predict", body)
    expected = model.predict_proba(PETS)
    assert np.allclose(answer.json()["probabilities"], expected, atol=1e-9)
    refused = await post(client, f"/models/{NAME}/invocations", body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "return_probabilities"]


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [SETOSA, VIRGINICA]},
        {"inputs": [SETOSA, VIRGINICA]},
        {"inputs": {name: [a, b] for name, a, b in zip(IRIS, SETOSA, VIRGINICA, strict=True)}},
        {"dataframe_split": {"columns": IRIS, "data": [SETOSA, VIRGINICA], "index": [0, 1]}},
        {"dataframe_split": {"data": [SETOSA, VIRGINICA]}},
        {"dataframe_records": [dict(zip(IRIS, row, strict=True)) for row in (SETOSA, VIRGINICA)]},
    ],
)
async def test_an_ndarray_model_takes_every_form(
    served: tuple[httpx.AsyncClient, Pipeline], body: dict[str, Any]
) -> None:
    client, _ = served
    answer = await post(client, "/models/iris/invocations", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": ["setosa", "virginica"]}


async def test_an_ndarray_model_takes_csv(served: tuple[httpx.AsyncClient, Pipeline]) -> None:
    client, _ = served
    text = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
    headers = {**INTERNAL, "content-type": "text/csv; charset=utf-8"}
    answer = await client.post("/models/iris/invocations", content=text, headers=headers)
    assert answer.json() == {"predictions": ["setosa"]}


BAD_ROW = {"especie": "Loro", "peso (kg)": 3.0, "edad": 2}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {"dataframe_split": {"columns": list(PETS.columns), "data": [["Gato", 3.0, 2]] * 2}},
            None,
        ),
        (
            {
                "dataframe_split": {
                    "columns": list(PETS.columns),
                    "data": [["Gato", 3, 2], ["Loro", 3, 2]],
                }
            },
            ["body", "dataframe_split", "data", 1, "especie"],
        ),
        (
            {"dataframe_records": [records(PETS)[0], BAD_ROW]},
            ["body", "dataframe_records", 1, "especie"],
        ),
        (
            {"instances": [["Gato", 3.0, 2], ["Gato", "heavy", 2]]},
            ["body", "instances", 1, "peso_kg"],
        ),
        (
            {"inputs": {"especie": ["Gato"], "peso (kg)": [3.0], "edad": [2.5]}},
            ["body", "inputs", 0, "edad"],
        ),
        ({"instances": [["Gato", 3.0]]}, ["body", "instances", 0]),
        (
            {"dataframe_split": {"columns": ["especie", "edad"], "data": [["Gato", 2]]}},
            ["body", "dataframe_split", "columns"],
        ),
        (
            {"dataframe_split": {"columns": ["especie", "peso", "edad"], "data": [["Gato", 3, 2]]}},
            ["body", "dataframe_split", "columns", 1],
        ),
        (
            {"instances": [{**BAD_ROW, "especie": "Gato", "peso_kg": 3.0}]},
            ["body", "instances", 0, "peso_kg"],
        ),
        ({"instances": [records(PETS)[0]], "params": {"temperature": 1}}, ["body", "params"]),
        ({"instances": [records(PETS)[0]], "inputs": [["Gato", 3.0, 2]]}, ["body"]),
        ({"rows": [records(PETS)[0]]}, ["body", "rows"]),
        ({"instances": []}, ["body", "instances"]),
        (
            {"dataframe_split": {"columns": None, "data": [["Gato", 3.0, 2]]}},
            ["body", "dataframe_split", "columns"],
        ),
    ],
)
async def test_bad_bodies_are_422_naming_the_row_and_field(
    served: tuple[httpx.AsyncClient, Pipeline], body: dict[str, Any], loc: list[Any] | None
) -> None:
    client, _ = served
    answer = await post(client, f"/models/{NAME}/invocations", body)
    if loc is None:  # the control: a good body
        assert answer.status_code == 200, answer.text
        return
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["loc"] == loc
    assert ": ." not in answer.json()["detail"]


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        ("especie,peso (kg),edad\nGato,3.0,2\nGato,heavy,2\n", ["body", 1, "peso_kg"]),
        ("especie,peso (kg),edad\nGato,3.0\n", ["body", 0]),
        ("especie,peso,edad\nGato,3.0,2\n", ["body", "header", 1]),
        ("", ["body"]),
    ],
)
async def test_bad_csv_is_422_naming_the_row_and_field(
    served: tuple[httpx.AsyncClient, Pipeline], text: str, loc: list[Any]
) -> None:
    client, _ = served
    headers = {**INTERNAL, "content-type": "text/csv"}
    answer = await client.post(f"/models/{NAME}/invocations", content=text, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == loc


async def test_rows_beyond_the_limit_are_422_in_every_form(
    frame_models: tuple[Path, Pipeline], redis_url: str
) -> None:
    settings = Settings(models_dir=frame_models[0], redis_url=redis_url, max_rows=2)
    async with serve_in_process(create_app(settings)) as client:
        split = await post(client, "/models/iris/invocations", {"inputs": [SETOSA] * 3})
        text = "sepal_length,sepal_width,petal_length,petal_width\n" + "5.1,3.5,1.4,0.2\n" * 3
        headers = {**INTERNAL, "content-type": "text/csv"}
        csv = await client.post("/models/iris/invocations", content=text, headers=headers)
    assert (split.status_code, csv.status_code) == (422, 422)
    assert "at most 2 rows" in split.json()["errors"][0]["msg"]
    assert "at most 2 rows" in csv.json()["errors"][0]["msg"]


async def test_a_whole_body_error_names_the_problem(
    served: tuple[httpx.AsyncClient, Pipeline],
) -> None:
    client, _ = served
    for path in ("/models/iris/predict", "/models/iris/invocations"):
        answer = await post(client, path, [1, 2])
        assert answer.status_code == 422
        assert ": ." not in answer.json()["detail"]
        assert "the body (" in answer.json()["detail"]


async def test_other_media_types_are_415(served: tuple[httpx.AsyncClient, Pipeline]) -> None:
    client, _ = served
    headers = {**INTERNAL, "content-type": "text/plain"}
    answer = await client.post("/models/iris/invocations", content="x", headers=headers)
    assert answer.status_code == 415
