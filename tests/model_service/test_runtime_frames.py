"""Compiled runtimes for the models users bring (issue 14, item 1): a model with a category
feature (churn: a OneHotEncoder in a ColumnTransformer, fitted on an array) and Pipelines
fitted on a DataFrame (a ColumnTransformer with a OneHotEncoder on a string column and a
StandardScaler on numbers, columns named `peso (kg)` and `año`) compile with one ONNX input per
column and serve with onnxruntime, answering as scikit-learn on rows the verification never saw.
"""

import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import servir
from model_service.config import Settings
from model_service.demo_models import CONTRACTS, churn, write_bundle
from model_service.main import create_app
from model_service.models import verify
from model_service.models.bundles import load_bundle
from model_service.runtimes.inputs import LayoutError
from model_service.runtimes.onnx import OnnxRuntime
from model_service.runtimes.verdicts import compiled_file
from shared_schemas.manifest import Manifest
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.fresh_replica import load_in_a_fresh_process

pytestmark = pytest.mark.anyio
TOLERANCE = Settings().runtime_tolerance
FRAME_MODELS = ("pets", "pets-forest")


def pets(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "especie": rng.choice(["Gato", "Perro"], rows),
            "peso (kg)": rng.normal(12, 5, rows).clip(1, 40).round(1),
            "año": rng.integers(1, 16, rows),
        }
    )


def pets_pipeline(frame: pd.DataFrame, last: Any) -> Any:
    """The species one-hot encoded; the numbers scaled for a logistic regression, passed
    through as they are for a forest (a tree needs no scaling)."""
    weight = frame["peso (kg)"].to_numpy() / np.where(frame["especie"] == "Perro", 25, 5)
    labels = np.where(frame["año"].to_numpy() / 15 + weight > 1.2, "revisar", "sano")
    numbers = "passthrough" if isinstance(last, RandomForestClassifier) else StandardScaler()
    columns = ColumnTransformer(
        [("especie", OneHotEncoder(), ["especie"]), ("n", numbers, ["peso (kg)", "año"])]
    )
    return make_pipeline(columns, last).fit(frame, labels)


def customers(rows: int, seed: int) -> np.ndarray:
    """Churn's rows as the model takes them: tenure, charges, contract, support."""
    rng = np.random.default_rng(seed)
    table = np.empty((rows, 4), dtype=object)
    table[:, 0] = rng.integers(0, 72, rows).tolist()
    table[:, 1] = rng.uniform(20, 120, rows).round(2).tolist()
    table[:, 2] = rng.choice(CONTRACTS, rows).tolist()
    table[:, 3] = rng.integers(0, 2, rows).astype(bool).tolist()
    return table


def visits_model() -> Any:
    """Fitted on an array: a plan (category) and a count of visits (an int without bounds)."""
    rng = np.random.default_rng(1)
    table = np.empty((200, 2), dtype=object)
    table[:, 0] = rng.choice(["basic", "pro"], 200).tolist()
    table[:, 1] = rng.integers(0, 100, 200).tolist()
    labels = np.where((table[:, 0] == "pro") | (table[:, 1] > 50), "keep", "drop")
    encode = ColumnTransformer(
        [("plan", OneHotEncoder(categories=[["basic", "pro"]]), [0])], remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression()).fit(table, labels)


VISITS = {
    "task": "classification",
    "features": [
        {"name": "plan", "type": "category", "categories": ["basic", "pro"]},
        {"name": "visits", "type": "int"},
    ],
}


@pytest.fixture(scope="module")
def verified_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Churn, two DataFrame pipelines (a logistic regression, a forest) saved with the SDK, and
    the visits model, verified once; read-only."""
    store: Path = tmp_path_factory.mktemp("frames") / "models"
    churn(store)
    frame = pets(300, seed=3)
    lasts = {
        "pets": LogisticRegression(),
        "pets-forest": RandomForestClassifier(30, random_state=0),
    }
    for name, last in lasts.items():
        servir.save_model(pets_pipeline(frame, last), store / name / "1", sample=frame, name=name)
    write_bundle(store, name="visits", estimator=visits_model(), manifest=VISITS)
    folders = sorted(p for p in store.glob("*/*") if p.is_dir())
    assert set(verify.verify_bundles(folders, Settings(models_dir=store)).values()) == {None}
    return store


@pytest.fixture
def store(verified_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(verified_store, target)
    return target


@pytest.fixture
async def service(store: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(models_dir=store, redis_url=redis_url)
    async with serve_in_process(create_app(settings)) as client:
        yield client


def manifest_of(store: Path, name: str) -> Manifest:
    return Manifest.model_validate_json((store / name / "1" / "manifest.json").read_bytes())


def estimator_of(store: Path, name: str) -> Any:
    return load_bundle(store / name / "1", Settings(models_dir=store)).estimator


async def served(
    client: httpx.AsyncClient, manifest: Manifest, table: np.ndarray
) -> dict[str, Any]:
    """The service's runtime and answers for `table` (columns in manifest order)."""
    names = [feature.name for feature in manifest.features]
    instances = [dict(zip(names, row, strict=True)) for row in table.tolist()]
    body = {"instances": instances, "return_probabilities": True}
    path = f"/models/{manifest.name}"
    response = await client.post(f"{path}/predict", json=body, headers=INTERNAL)
    assert response.status_code == 200, response.text
    metadata = await client.get(path, headers=INTERNAL)
    answer: dict[str, Any] = {**response.json(), "runtime": metadata.json()["runtime"]}
    return answer


def assert_same(answer: dict[str, Any], predictions: Any, probabilities: Any) -> None:
    assert answer["runtime"]["name"] == "onnxruntime", answer["runtime"]
    assert answer["runtime"]["reason"] is None
    assert 0 <= answer["runtime"]["max_difference"] <= TOLERANCE
    assert answer["predictions"] == np.asarray(predictions).tolist()
    difference = np.abs(np.array(answer["probabilities"]) - probabilities)
    assert np.max(difference) <= TOLERANCE


async def test_churn_with_a_category_feature_serves_compiled_as_scikit_learn_answers(
    service: httpx.AsyncClient, store: Path
) -> None:
    fresh = customers(200, seed=42)  # rows the verification never saw
    estimator = estimator_of(store, "churn")
    answer = await served(service, manifest_of(store, "churn"), fresh)
    assert_same(answer, estimator.predict(fresh), estimator.predict_proba(fresh))


@pytest.mark.parametrize("name", FRAME_MODELS)
async def test_a_dataframe_pipeline_serves_compiled_as_scikit_learn_answers(
    service: httpx.AsyncClient, store: Path, name: str
) -> None:
    fresh = pets(200, seed=42)
    estimator = estimator_of(store, name)
    answer = await served(service, manifest_of(store, name), fresh.to_numpy(dtype=object))
    assert_same(answer, estimator.predict(fresh), estimator.predict_proba(fresh))


async def test_an_int_past_int64_reaches_a_model_fitted_on_an_array_as_a_float(
    service: httpx.AsyncClient, store: Path
) -> None:
    """Fitted on an array, the model saw its ints as floats: so does its compiled input, and
    a count past int64's range (within the contract: the int has no bounds) answers as
    scikit-learn does rather than failing."""
    rows = np.array([["pro", 10**19], ["basic", 10**19], ["basic", 3]], dtype=object)
    estimator = estimator_of(store, "visits")
    answer = await served(service, manifest_of(store, "visits"), rows)
    assert_same(answer, estimator.predict(rows), estimator.predict_proba(rows))


def compiled_model(store: Path, name: str) -> bytes:
    """The compiled file the child recorded for `name`."""
    raw = (store / name / "1" / "manifest.json").read_bytes()
    key = verify.verdict_key(hashlib.sha256(raw).hexdigest(), Settings())
    return compiled_file(store / verify.VERDICTS / key).read_bytes()


def test_each_input_is_fed_its_own_column_by_name(verified_store: Path) -> None:
    """The compiled model's inputs carry the names the model was fitted with (`peso (kg)`,
    which skl2onnx would have made `peso__kg_`), and each is fed the column of that name
    wherever it stands in the rows."""
    model = compiled_model(verified_store, "pets")
    estimator = estimator_of(verified_store, "pets")
    fresh = pets(50, seed=8)
    columns = ("especie", "peso (kg)", "año")
    reversed_runtime = OnnxRuntime(model, threads=1, has_proba=True, columns=columns[::-1])
    reversed_rows = fresh[list(columns[::-1])].to_numpy(dtype=object)
    predictions, probabilities = reversed_runtime.predict(reversed_rows, True)
    assert predictions.tolist() == estimator.predict(fresh).tolist()
    assert np.max(np.abs(probabilities - estimator.predict_proba(fresh))) <= TOLERANCE
    with pytest.raises(LayoutError, match="'peso \\(kg\\)' is not a feature column"):
        OnnxRuntime(model, threads=1, has_proba=True, columns=("especie", "peso_kg", "año"))


def test_a_replica_serving_dataframe_models_compiled_imports_neither_pandas_nor_sklearn(
    verified_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "models"
    shutil.copytree(verified_store, store)
    ready, imported = load_in_a_fresh_process(store)
    models = ("churn", "pets-forest", "pets", "visits")
    assert ready == str([(f"{name}/1", "ready") for name in models])
    assert imported == "[]"
