"""Compiled runtimes (issue 14, item 1): a model that converts to ONNX and answers like
scikit-learn serves with onnxruntime; one that does not, or under MODEL_RUNTIME=sklearn, serves
with scikit-learn and says why; a compiled file that is not the one verified never serves."""

import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression

from model_service.config import Settings
from model_service.demo_models import churn, write_bundle
from model_service.deps import state_of
from model_service.main import create_app
from model_service.models import verify
from model_service.runtimes.verdicts import compiled_file
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.fresh_replica import load_in_a_fresh_process

pytestmark = pytest.mark.anyio
FEATURES = ["a", "b", "c", "d"]
KERNEL_RIDGE = "sklearn.kernel_ridge.KernelRidge"
TOLERANCE = Settings().runtime_tolerance


def training_rows(seed: int = 0, count: int = 400) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 10, (count, len(FEATURES)))


def labels_of(rows: np.ndarray) -> np.ndarray:
    return np.where(rows[:, 0] + rows[:, 1] > rows[:, 2] + 2, "high", "low")


def manifest(task: str) -> dict[str, Any]:
    features = [{"name": n, "type": "float", "min": 0.0, "max": 10.0} for n in FEATURES]
    return {"task": task, "features": features}


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    """The estimators the store holds, to compare answers with."""
    rows = training_rows()
    forest = RandomForestClassifier(n_estimators=50, random_state=0)
    return {
        "forest": forest.fit(rows, labels_of(rows)),
        "logistic": LogisticRegression(max_iter=500).fit(rows, labels_of(rows)),
        "ridge": KernelRidge(alpha=1.0).fit(rows, rows.sum(axis=1)),
    }


@pytest.fixture(scope="module")
def verified_store(fitted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A forest, a logistic regression, a kernel ridge (skl2onnx cannot convert it) and churn
    (category features: it compiles too, test_runtime_frames.py), verified once; read-only."""
    store: Path = tmp_path_factory.mktemp("runtimes") / "models"
    write_bundle(
        store, name="forest", estimator=fitted["forest"], manifest=manifest("classification")
    )
    write_bundle(
        store, name="logistic", estimator=fitted["logistic"], manifest=manifest("classification")
    )
    write_bundle(store, name="ridge", estimator=fitted["ridge"], manifest=manifest("regression"))
    churn(store)
    folders = sorted(p for p in store.glob("*/*") if p.is_dir())
    settings = Settings(models_dir=store, unvalidated_types=[KERNEL_RIDGE])
    assert set(verify.verify_bundles(folders, settings).values()) == {None}
    return store


@pytest.fixture
def store(verified_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(verified_store, target)
    return target


def settings_of(store: Path, redis_url: str, **extra: Any) -> Settings:
    return Settings(
        models_dir=store, redis_url=redis_url, unvalidated_types=[KERNEL_RIDGE], **extra
    )


@pytest.fixture
async def service(store: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(create_app(settings_of(store, redis_url))) as client:
        yield client


async def predict(
    client: httpx.AsyncClient, name: str, rows: np.ndarray, *, proba: bool = True
) -> dict[str, Any]:
    instances = [dict(zip(FEATURES, row, strict=True)) for row in rows.tolist()]
    body = {"instances": instances, "return_probabilities": proba}
    response = await client.post(f"/models/{name}/predict", json=body, headers=INTERNAL)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def runtime_of(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.get(f"/models/{name}", headers=INTERNAL)
    assert response.status_code == 200, response.text
    runtime: dict[str, Any] = response.json()["runtime"]
    return runtime


@pytest.mark.parametrize("name", ["forest", "logistic"])
async def test_a_converted_model_serves_compiled_with_scikit_learns_answers(
    service: httpx.AsyncClient, fitted: dict[str, Any], name: str
) -> None:
    runtime = await runtime_of(service, name)
    assert runtime["name"] == "onnxruntime"
    assert runtime["reason"] is None
    assert 0 <= runtime["max_difference"] <= TOLERANCE
    fresh = training_rows(seed=99, count=200)  # rows the verification never saw
    answer = await predict(service, name, fresh)
    assert answer["predictions"] == fitted[name].predict(fresh).tolist()
    expected = fitted[name].predict_proba(fresh)
    assert np.max(np.abs(np.array(answer["probabilities"]) - expected)) <= TOLERANCE


async def test_the_runtime_shows_in_v2_platform_and_metrics(store: Path, redis_url: str) -> None:
    app = create_app(settings_of(store, redis_url))
    async with serve_in_process(app) as client:
        v2 = (await client.get("/v2/models/forest", headers=INTERNAL)).json()
        assert v2["platform"] == "onnxruntime"
        v2 = (await client.get("/v2/models/ridge", headers=INTERNAL)).json()
        assert v2["platform"] == "scikit-learn"
        metrics = (await client.get("/metrics")).text
        compiled = 'servir_model_runtime_info{model="forest",runtime="onnxruntime",version="1"} 1.0'
        assert compiled in metrics
        assert (
            'servir_model_runtime_info{model="ridge",runtime="sklearn",version="1"} 1.0' in metrics
        )
        # Straight on the registry: the repository's unload is remembered in the shared Redis.
        state_of(app).registry.unload("forest")
        assert 'servir_model_runtime_info{model="forest"' not in (await client.get("/metrics")).text


async def test_what_does_not_convert_serves_with_scikit_learn_saying_why(
    service: httpx.AsyncClient, fitted: dict[str, Any]
) -> None:
    ridge = await runtime_of(service, "ridge")
    assert ridge["name"] == "sklearn"
    assert "skl2onnx cannot convert it" in ridge["reason"]
    fresh = training_rows(seed=5, count=3)
    assert (await predict(service, "ridge", fresh, proba=False))["predictions"] == pytest.approx(
        fitted["ridge"].predict(fresh).tolist()
    )


async def test_model_runtime_sklearn_forces_scikit_learn(
    store: Path, redis_url: str, fitted: dict[str, Any]
) -> None:
    settings = settings_of(store, redis_url, runtime="sklearn")
    async with serve_in_process(create_app(settings)) as client:
        runtime = await runtime_of(client, "forest")
        assert runtime["name"] == "sklearn"
        assert runtime["reason"] == "MODEL_RUNTIME=sklearn"
        fresh = training_rows(seed=7, count=20)
        answer = await predict(client, "forest", fresh)
        assert answer["probabilities"] == fitted["forest"].predict_proba(fresh).tolist()
        v2 = await client.get("/v2/models/forest", headers=INTERNAL)
        assert v2.status_code == 200, v2.text
        assert v2.json()["platform"] == "scikit-learn", v2.text


def verdict_files(store: Path) -> dict[str, Path]:
    """Each model's verdict file, by model name (keyed by its manifest and the settings)."""
    found = {}
    for folder in sorted(p for p in store.glob("*/*") if p.is_dir() and p.parent.name[0] != "."):
        raw = (folder / "manifest.json").read_bytes()
        settings = Settings(unvalidated_types=[KERNEL_RIDGE])
        key = verify.verdict_key(hashlib.sha256(raw).hexdigest(), settings)
        found[folder.parent.name] = store / verify.VERDICTS / key
    return found


async def test_a_tampered_compiled_file_is_verified_again_not_served(
    store: Path, redis_url: str, fitted: dict[str, Any]
) -> None:
    verdicts = verdict_files(store)
    forest = compiled_file(verdicts["forest"])
    # The logistic regression's compiled model, a valid ONNX file, in the forest's place.
    forest.write_bytes(compiled_file(verdicts["logistic"]).read_bytes())
    async with serve_in_process(create_app(settings_of(store, redis_url))) as client:
        assert (await runtime_of(client, "forest"))["name"] == "onnxruntime"
        fresh = training_rows(seed=11, count=100)
        answer = await predict(client, "forest", fresh)
        expected = fitted["forest"].predict_proba(fresh)
        assert np.max(np.abs(np.array(answer["probabilities"]) - expected)) <= TOLERANCE
    recorded = json.loads(verdicts["forest"].read_bytes())["runtime"]["onnx_sha256"]
    assert hashlib.sha256(forest.read_bytes()).hexdigest() == recorded  # re-verified


async def test_a_recorded_compiled_file_with_a_custom_domain_is_refused(
    store: Path, redis_url: str
) -> None:
    """Whoever can write the verdicts folder still cannot make the service load a custom
    operator: the serving process checks the file it loads, not only the child."""
    from tests.model_service.test_runtime_onnxcheck import custom_domain_model  # noqa: PLC0415

    verdict = verdict_files(store)["forest"]
    crafted = custom_domain_model()
    compiled_file(verdict).write_bytes(crafted)
    recorded = json.loads(verdict.read_bytes())
    recorded["runtime"]["onnx_sha256"] = hashlib.sha256(crafted).hexdigest()
    verdict.write_text(json.dumps(recorded))
    async with serve_in_process(create_app(settings_of(store, redis_url))) as client:
        ready = (await client.get("/readyz")).json()["models"]
    assert "custom domain 'com.example.evil'" in ready["forest/1"]
    assert ready["logistic/1"] == "ready"


async def test_a_version_records_what_the_child_measured(store: Path, redis_url: str) -> None:
    app = create_app(settings_of(store, redis_url))
    async with serve_in_process(app):
        models = state_of(app).registry.models
        forest, ridge = models["forest"]["1"], models["ridge"]["1"]
    assert forest.inline_safe  # every object validated
    assert not ridge.inline_safe  # KernelRidge is only vouched for (MODEL_UNVALIDATED_TYPES)
    assert set(forest.predict_seconds) == {"sklearn", "onnxruntime"}


def test_a_replica_serving_only_compiled_models_never_imports_scikit_learn(
    verified_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "models"
    # Churn's category feature is fed to the compiled model as strings: no scikit-learn either.
    shutil.copytree(verified_store, store, ignore=shutil.ignore_patterns("ridge"))
    ready, imported = load_in_a_fresh_process(store)
    assert ready == "[('churn/1', 'ready'), ('forest/1', 'ready'), ('logistic/1', 'ready')]"
    assert imported == "[]"
