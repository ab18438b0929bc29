"""XGBoost and LightGBM bundles through the whole service (issue 14, item 2): saved by the SDK in
their own formats, verified by the child, served compiled where onnxruntime agrees with the
library, and by the library itself under MODEL_RUNTIME=sklearn; the same answers either way."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from model_service.config import Settings
from model_service.main import create_app
from model_service.models import verify
from servir import save_model
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service import flavor_models

pytestmark = pytest.mark.anyio
TOLERANCE = Settings().runtime_tolerance
MODELS: dict[str, Any] = {
    "xgb": flavor_models.xgb_classifier,
    "lgbm": flavor_models.lgb_regressor,
}


@pytest.fixture(scope="module")
def verified_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An XGBoost classifier and a LightGBM regressor saved with servir.save_model, verified."""
    store: Path = tmp_path_factory.mktemp("boosted") / "models"
    sample = flavor_models.iris()[0]
    save_model(MODELS["xgb"](), store / "xgb" / "1", sample=sample, name="xgb", version="1")
    sample = flavor_models.diabetes()[0]
    save_model(MODELS["lgbm"](), store / "lgbm" / "1", sample=sample, name="lgbm", version="1")
    folders = sorted(p for p in store.glob("*/*") if p.is_dir())
    assert set(verify.verify_bundles(folders, Settings(models_dir=store)).values()) == {None}
    return store


@pytest.fixture(params=["auto", "sklearn"])
async def service(
    request: pytest.FixtureRequest, verified_store: Path, redis_url: str
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    settings = Settings(models_dir=verified_store, redis_url=redis_url, runtime=request.param)
    async with serve_in_process(create_app(settings)) as client:
        yield request.param, client


async def answer_of(client: httpx.AsyncClient, name: str, rows: np.ndarray) -> dict[str, Any]:
    names = [f["name"] for f in (await metadata_of(client, name))["features"]]
    instances = [dict(zip(names, row, strict=True)) for row in rows.tolist()]
    body = {"instances": instances, "return_probabilities": name == "xgb"}
    response = await client.post(f"/models/{name}/predict", json=body, headers=INTERNAL)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def metadata_of(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.get(f"/models/{name}", headers=INTERNAL)
    assert response.status_code == 200, response.text
    metadata: dict[str, Any] = response.json()
    return metadata


async def test_an_xgboost_classifier_serves_its_own_answers(
    service: tuple[str, httpx.AsyncClient],
) -> None:
    runtime, client = service
    model = MODELS["xgb"]()
    shown = (await metadata_of(client, "xgb"))["runtime"]
    assert shown["name"] == ("onnxruntime" if runtime == "auto" else "xgboost")
    v2 = (await client.get("/v2/models/xgb", headers=INTERNAL)).json()
    assert v2["platform"] == shown["name"]
    fresh = flavor_models.fresh_rows(flavor_models.iris()[0], count=200)
    answer = await answer_of(client, "xgb", fresh)
    assert answer["predictions"] == model.predict(fresh).tolist()
    expected = model.predict_proba(fresh)
    assert np.max(np.abs(np.array(answer["probabilities"]) - expected)) <= TOLERANCE


async def test_a_lightgbm_regressor_serves_its_own_answers(
    service: tuple[str, httpx.AsyncClient],
) -> None:
    runtime, client = service
    model = MODELS["lgbm"]()
    shown = (await metadata_of(client, "lgbm"))["runtime"]
    assert shown["name"] == ("onnxruntime" if runtime == "auto" else "lightgbm")
    fresh = flavor_models.fresh_rows(flavor_models.diabetes()[0], count=200)
    answer = await answer_of(client, "lgbm", fresh)
    expected = model.predict(fresh)
    difference = np.abs(np.array(answer["predictions"]) - expected) / np.maximum(1, abs(expected))
    assert np.max(difference) <= TOLERANCE
