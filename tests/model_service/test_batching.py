"""The batch queue and the estimator call: one caller's bad rows fail that caller alone; an
estimator raising on valid rows is the model's failure."""

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from model_service.errors import InvalidInput, ModelError
from model_service.models.batching import BatchQueue
from model_service.models.registry import ModelVersion
from model_service.models.schemas import build_schemas
from model_service.models.workers import InferencePool
from model_service.runtimes.scikit import SklearnRuntime
from shared_schemas.manifest import FeatureSpec, Manifest

pytestmark = pytest.mark.anyio


def doubled(rows: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A model that refuses one caller's rows (negative values)."""
    if (rows < 0).any():
        raise InvalidInput("negative", errors=[])
    return rows[:, 0] * 2, None


async def test_a_refused_caller_in_a_batch_fails_alone() -> None:
    pool = InferencePool(1)
    queue = BatchQueue(doubled, pool=pool, deadline_seconds=10, max_batch_size=64, max_wait_ms=50)
    rows = [np.array([[float(i)]]) for i in range(5)] + [np.array([[-1.0]])]
    answers = await asyncio.gather(
        *(queue.submit(row, proba=False) for row in rows), return_exceptions=True
    )
    pool.shutdown()
    assert [float(a[0][0]) for a in answers[:5]] == [0.0, 2.0, 4.0, 6.0, 8.0]  # type: ignore[index]
    assert isinstance(answers[5], InvalidInput)


class Gated:
    """A model whose calls wait until the gate opens, recording when each began and its rows."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls: list[tuple[float, int]] = []

    def __call__(self, rows: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        self.calls.append((time.monotonic(), len(rows)))
        self.started.set()
        self.gate.wait(5)
        return rows[:, 0] * 2, None


def row(value: float) -> np.ndarray:
    return np.array([[value]])


async def test_callers_queued_behind_a_batch_go_as_soon_as_they_fill_one() -> None:
    model, pool = Gated(), InferencePool(1)
    queue = BatchQueue(model, pool=pool, deadline_seconds=10, max_batch_size=3, max_wait_ms=10_000)
    first = asyncio.ensure_future(queue.submit(row(0), proba=False))
    assert await asyncio.to_thread(model.started.wait, 5)  # a lone caller goes at once
    later = [asyncio.ensure_future(queue.submit(row(i), proba=False)) for i in (1, 2)]
    model.gate.set()
    await first
    await asyncio.sleep(0.05)
    assert len(model.calls) == 1  # two rows of three: waiting for company
    later.append(asyncio.ensure_future(queue.submit(row(3), proba=False)))
    async with asyncio.timeout(2):  # long before the 10 s window ends
        answers = await asyncio.gather(*later)
    pool.shutdown()
    assert [rows for _, rows in model.calls] == [1, 3]
    assert [float(answer[0][0]) for answer in answers] == [2.0, 4.0, 6.0]


async def test_a_batch_short_of_its_size_waits_out_its_window() -> None:
    model, pool = Gated(), InferencePool(1)
    queue = BatchQueue(model, pool=pool, deadline_seconds=10, max_batch_size=64, max_wait_ms=100)
    first = asyncio.ensure_future(queue.submit(row(0), proba=False))
    assert await asyncio.to_thread(model.started.wait, 5)
    arrived = time.monotonic()
    second = asyncio.ensure_future(queue.submit(row(1), proba=False))
    model.gate.set()
    await asyncio.gather(first, second)
    pool.shutdown()
    assert [rows for _, rows in model.calls] == [1, 1]
    assert model.calls[1][0] - arrived >= 0.1


class Refusing:
    """An estimator that raises on rows that fit its contract."""

    def predict(self, rows: Any) -> Any:
        raise ValueError("Input X contains infinity or a value too large for dtype('float32').")


def test_an_estimators_value_error_is_the_models_500_carrying_the_cause() -> None:
    model = ModelVersion.__new__(ModelVersion)
    model.manifest = Manifest(
        name="refusing",
        version="3",
        task="regression",
        features=[FeatureSpec(name="x", type="float")],
        sha256="0" * 64,
    )
    model.schemas = build_schemas(model.manifest, max_rows=1)
    model.runtime = SklearnRuntime(Refusing(), model.schemas)
    with pytest.raises(ModelError) as failed:
        model.predict(np.array([[1.0]]), proba=False)
    assert failed.value.status == 500
    assert failed.value.title == "Model error"
    assert failed.value.detail.startswith("Model refusing version 3 failed")
    assert "float32" not in failed.value.detail  # the cause is logged, never answered
    assert isinstance(failed.value.__cause__, ValueError)
