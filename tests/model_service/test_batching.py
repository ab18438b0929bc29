"""The batch queue and the estimator call: one caller's bad rows fail that caller alone."""

import asyncio
from typing import Any

import numpy as np
import pytest

from model_service.batching import BatchQueue
from model_service.errors import RowsRefused
from model_service.registry import ModelVersion
from model_service.workers import InferencePool

pytestmark = pytest.mark.anyio


def doubled(rows: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A model that refuses negative values, as scikit-learn refuses what it cannot take."""
    if (rows < 0).any():
        raise RowsRefused("negative")
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
    assert isinstance(answers[5], RowsRefused)


class Refusing:
    """An estimator that raises what scikit-learn raises for values past float32."""

    def predict(self, rows: Any) -> Any:
        raise ValueError("Input X contains infinity or a value too large for dtype('float32').")


def test_an_estimators_value_error_is_a_422_naming_the_reason() -> None:
    model = ModelVersion.__new__(ModelVersion)
    model.estimator = Refusing()
    with pytest.raises(RowsRefused) as refused:
        model.predict(np.array([[1.0]]), proba=False)
    assert refused.value.status == 422
    assert "float32" in refused.value.detail
