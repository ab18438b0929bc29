"""A predict that overruns MODEL_INFERENCE_TIMEOUT_SECONDS takes its version out of service
(503 + Retry-After, `degraded` in /readyz) while the other models keep serving, on one worker
thread; loading the model again brings it back."""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from model_service.config import Settings
from model_service.deps import state_of
from model_service.main import create_app
from model_service.models.registry import Registry
from model_service.models.workers import InferencePool, InferenceTimedOut
from model_service.runtimes.scikit import SklearnRuntime
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.hanging import RELEASE, TRIGGER, HangsOnTrigger
from tests.model_service.test_predict import CUSTOMER, SETOSA
from tests.model_service.test_v2 import tensor

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
HUNG = {**SETOSA, "petal_length": TRIGGER}


@pytest.fixture(autouse=True)
def release_stuck_threads() -> Iterator[None]:
    """Let the threads the tests leave stuck go at the end (they are daemons either way)."""
    RELEASE.clear()
    yield
    RELEASE.set()


@pytest.fixture
def app(model_settings: Settings) -> FastAPI:
    """One worker thread: if a stuck worker were not replaced, nothing else could run.
    scikit-learn serves, so that iris's estimator can be made to hang."""
    update = {"inference_threads": 1, "inference_timeout_seconds": 1.0, "runtime": "sklearn"}
    return create_app(model_settings.model_copy(update=update))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The running app, with iris's estimator hanging on TRIGGER."""
    async with serve_in_process(app) as client:
        runtime = _registry(app).models["iris"]["1"].runtime
        assert isinstance(runtime, SklearnRuntime)
        runtime.estimator = HangsOnTrigger(runtime.estimator)
        yield client


def _registry(app: FastAPI) -> Registry:
    return state_of(app).registry


async def predict(client: httpx.AsyncClient, name: str, *rows: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/models/{name}/predict", json={"instances": list(rows)}, headers=INTERNAL
    )


def assert_out_of_service(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert "MODEL_INFERENCE_TIMEOUT_SECONDS" in response.json()["detail"]


async def test_a_predict_past_the_deadline_is_503_and_the_other_models_keep_serving(
    client: httpx.AsyncClient,
) -> None:
    assert_out_of_service(await predict(client, "iris", HUNG))
    other = await predict(client, "churn", CUSTOMER)
    assert other.status_code == 200, other.text
    assert_out_of_service(await predict(client, "iris", SETOSA))  # out of service until reloaded


async def test_readiness_says_degraded_naming_the_model(client: httpx.AsyncClient) -> None:
    await predict(client, "iris", HUNG)
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "degraded"
    assert "deadline" in ready["models"]["iris/1"]
    assert ready["models"]["churn/1"] == "ready"


async def test_the_timeout_is_counted(client: httpx.AsyncClient) -> None:
    await predict(client, "iris", HUNG)
    metrics = (await client.get("/metrics")).text
    assert 'servir_model_inference_timeouts_total{model="iris",version="1"} 1.0' in metrics


async def test_callers_waiting_behind_a_hung_batch_get_503_and_are_not_retried(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime = _registry(app).models["iris"]["1"].runtime
    assert isinstance(runtime, SklearnRuntime)
    estimator = runtime.estimator
    answers = await asyncio.gather(
        predict(client, "iris", HUNG), *(predict(client, "iris", SETOSA) for _ in range(5))
    )
    for answer in answers:
        assert_out_of_service(answer)
    assert estimator.calls == 1  # a retry could hang another worker


async def test_loading_the_model_again_brings_it_back(client: httpx.AsyncClient) -> None:
    assert_out_of_service(await predict(client, "iris", HUNG))
    loaded = await client.post("/v2/repository/models/iris/load", headers=INTERNAL)
    assert loaded.status_code == 200, loaded.text
    answer = await predict(client, "iris", SETOSA)
    assert answer.status_code == 200, answer.text
    assert (await client.get("/readyz")).json()["status"] == "ready"


async def test_v2_inference_past_the_deadline_is_503(client: httpx.AsyncClient) -> None:
    hung = {"inputs": [tensor([[5.1, 3.5, TRIGGER, 0.2]])]}
    answer = await client.post("/v2/models/iris/infer", json=hung, headers=INTERNAL)
    assert_out_of_service(answer)
    assert answer.json()["error"] == answer.json()["detail"]
    ready = await client.get("/v2/models/iris/ready", headers=INTERNAL)
    assert ready.status_code == 503


def block(event: threading.Event) -> str:
    event.wait(30)
    return "late"


async def test_the_pool_replaces_a_stuck_worker_with_a_daemon() -> None:
    pool = InferencePool(1)
    stuck = threading.Event()
    with pytest.raises(InferenceTimedOut):
        await pool.run(lambda: block(stuck), deadline_seconds=0.1)
    assert await pool.run(lambda: np.float64(2) * 2, deadline_seconds=5) == 4
    workers = [t for t in threading.enumerate() if t.name.startswith("infer-")]
    assert all(worker.daemon for worker in workers)
    stuck.set()
    pool.shutdown()


async def test_waiting_in_the_queue_does_not_count_against_the_deadline() -> None:
    pool = InferencePool(1)
    busy = threading.Event()
    first = asyncio.ensure_future(pool.run(lambda: block(busy), deadline_seconds=5))
    second = asyncio.ensure_future(pool.run(lambda: "second", deadline_seconds=0.5))
    await asyncio.sleep(1.0)  # the second waits in the queue, past its own deadline
    busy.set()
    assert await first == "late"
    assert await second == "second"
    pool.shutdown()
