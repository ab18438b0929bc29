"""Shadow traffic (issue 15, item 2): a sampled copy of a split request goes to the shadow
version, is compared with the served answer and counted; the caller never waits for it and
never sees its errors; beyond MODEL_SHADOW_MAX_IN_FLIGHT copies new ones are dropped and counted.

The failing and slow shadows are fault injection: the shadow version's queue is replaced by a
fake that raises, sleeps or answers otherwise."""

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from model_service.config import Settings
from model_service.deps import state_of
from model_service.main import create_app
from model_service.models.registry import ModelVersion
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_repository import (
    ADMIN,
    SETOSA,
    bundle_archive,
    bundle_files,
    no_unloaded_flags,
    upload,
)
from tests.model_service.test_v2 import tensor

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags"]  # the fixture used here
SHADOW = {"split": {"1": 100}, "shadow": {"version": "2", "sample_rate": 1.0}}


class Running:
    """A model-service of iris 1 and 2 in process, and a way to reach its versions."""

    def __init__(self, client: httpx.AsyncClient, app: Any) -> None:
        self.client, self.app = client, app

    def version(self, number: str) -> ModelVersion:
        found: ModelVersion = state_of(self.app).registry.models["iris"][number]
        return found

    async def predict(self) -> httpx.Response:
        body = {"instances": [SETOSA]}
        return await self.client.post("/models/iris/predict", json=body, headers=INTERNAL)

    async def metric(self, name: str, **labels: str) -> float:
        text = (await self.client.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return float(sample.value)
        return 0.0

    async def eventually(self, name: str, value: float, **labels: str) -> None:
        for _ in range(500):  # 10 s
            if await self.metric(name, **labels) == value:
                return
            await anyio.sleep(0.02)
        assert await self.metric(name, **labels) == value, name


async def running(settings: Settings, store: Path) -> AsyncIterator[Running]:
    app = create_app(settings)
    async with serve_in_process(app) as client:
        archive = bundle_archive(bundle_files(store / "iris" / "1", "2"))
        assert (await upload(client, archive)).status_code == 201
        yield Running(client, app)


@pytest.fixture
async def service(model_settings: Settings, store: Path) -> AsyncIterator[Running]:
    async for one in running(model_settings, store):
        yield one


def faked(answer: Any) -> Any:
    """A shadow queue's `submit` that answers with `answer(rows)` (or raises it)."""

    async def submit(rows: np.ndarray, *, proba: bool) -> tuple[np.ndarray, None]:
        return answer(rows), None

    return submit


COPIES = "servir_model_shadow_requests_total"
ROWS = "servir_model_shadow_rows_total"


async def test_every_copy_is_compared_and_a_twin_agrees(service: Running) -> None:
    put = await service.client.put("/models/iris/traffic", json=SHADOW, headers=ADMIN)
    assert put.status_code == 200, put.text
    for _ in range(40):
        answered = await service.predict()
        assert answered.json()["version"] == "1"
    body = {"inputs": [tensor([[5.1, 3.5, 1.4, 0.2]] * 3)]}
    for _ in range(10):
        inferred = await service.client.post("/v2/models/iris/infer", json=body, headers=INTERNAL)
        assert inferred.status_code == 200, inferred.text
    await service.eventually(COPIES, 50, version="2", outcome="compared")
    assert await service.metric(ROWS, version="2", agreement="agree") == 70
    assert await service.metric(ROWS, version="2", agreement="disagree") == 0
    # Versioned and aliased calls are not split, so never shadowed.
    await service.client.post(
        "/models/iris/versions/1/predict", json={"instances": [SETOSA]}, headers=INTERNAL
    )
    await anyio.sleep(0.2)
    assert await service.metric(COPIES, version="2", outcome="compared") == 50


async def test_a_disagreeing_shadow_is_counted(service: Running) -> None:
    service.version("2").queue.submit = faked(lambda rows: np.array(["virginica"] * len(rows)))  # type: ignore[method-assign]
    assert (await service.client.put("/models/iris/traffic", json=SHADOW, headers=ADMIN)).is_success
    for _ in range(20):
        assert (await service.predict()).json()["predictions"] == ["setosa"]
    await service.eventually(ROWS, 20, version="2", agreement="disagree")


async def test_a_failing_shadow_never_touches_the_caller(service: Running) -> None:
    def fail(rows: np.ndarray) -> np.ndarray:
        raise RuntimeError("the shadow broke")

    service.version("2").queue.submit = faked(fail)  # type: ignore[method-assign]
    assert (await service.client.put("/models/iris/traffic", json=SHADOW, headers=ADMIN)).is_success
    for _ in range(30):
        answered = await service.predict()
        assert answered.status_code == 200, answered.text
        assert answered.json()["predictions"] == ["setosa"]
    await service.eventually(COPIES, 30, version="2", outcome="failed")
    errors = await service.metric("servir_model_errors_total", model="iris")
    assert errors == 0


async def test_a_slow_shadow_is_never_waited_for_and_its_copies_are_capped(
    store: Path, redis_url: str
) -> None:
    settings = Settings(models_dir=store, redis_url=redis_url, shadow_max_in_flight=2)
    async for service in running(settings, store):

        async def stuck(rows: np.ndarray, *, proba: bool) -> tuple[np.ndarray, None]:
            await anyio.sleep(30)  # cancelled when the service stops
            return rows, None

        service.version("2").queue.submit = stuck  # type: ignore[method-assign]
        put = await service.client.put("/models/iris/traffic", json=SHADOW, headers=ADMIN)
        assert put.is_success
        started = time.monotonic()
        for _ in range(10):
            assert (await service.predict()).status_code == 200
        assert time.monotonic() - started < 10  # ten answers long before one copy ends
        assert await service.metric(COPIES, version="2", outcome="dropped") == 8
        assert await service.metric(COPIES, version="2", outcome="compared") == 0


@pytest.mark.parametrize(
    "shadow",
    [
        {"version": "7", "sample_rate": 0.5},  # not loaded
        {"version": "2", "sample_rate": 0},
        {"version": "2", "sample_rate": 1.5},
        {"version": "2"},
        {"version": "2", "sample_rate": 0.5, "extra": 1},
    ],
)
async def test_bad_shadows_are_422(service: Running, shadow: dict[str, object]) -> None:
    body = {"split": {"1": 100}, "shadow": shadow}
    response = await service.client.put("/models/iris/traffic", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text


async def test_a_shadow_must_take_the_same_features(service: Running, store: Path) -> None:
    files = bundle_files(store / "iris" / "1", "3")
    manifest = json.loads(files["manifest.json"])
    manifest["features"][0]["max"] = 50.0  # another contract (100 in 1 and 2), the same model
    files["manifest.json"] = json.dumps(manifest).encode()
    assert (await upload(service.client, bundle_archive(files))).status_code == 201
    body = {"split": {"1": 100}, "shadow": {"version": "3", "sample_rate": 0.5}}
    response = await service.client.put("/models/iris/traffic", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "same" in response.json()["detail"]


async def test_the_shadow_version_cannot_be_deleted_while_shadowing(service: Running) -> None:
    assert (await service.client.put("/models/iris/traffic", json=SHADOW, headers=ADMIN)).is_success
    refused = await service.client.delete("/models/iris/versions/2", headers=ADMIN)
    assert refused.status_code == 409
