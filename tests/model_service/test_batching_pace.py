"""The batch queue's measured pace: company awaited from callers just answered, no window when
nobody is coming, and quick models run inline on the event loop (still batched, still under
their deadline)."""

import asyncio
import threading
import time

import numpy as np
import pytest

from model_service.errors import ModelTimedOut
from model_service.models.batching import BatchQueue
from model_service.models.pace import Pace
from model_service.models.workers import InferencePool
from tests.model_service.test_batching import Gated, row

pytestmark = pytest.mark.anyio


class Recording:
    """A model recording each call's rows and thread; slow (`pause` seconds) when told."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.pause = 0.0

    def __call__(self, rows: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        self.calls.append((len(rows), threading.get_ident()))
        if self.pause:
            time.sleep(self.pause)
        return rows[:, 0] * 2, None


def queue_of(model: Recording | Gated, pool: InferencePool, **options: object) -> BatchQueue:
    settings: dict[str, object] = {"deadline_seconds": 10, "max_batch_size": 64}
    settings["max_wait_ms"] = 10_000
    settings.update(options)
    return BatchQueue(model, pool=pool, **settings)  # type: ignore[arg-type]


async def test_a_queue_awaits_the_callers_it_just_answered_then_goes_at_once() -> None:
    model, pool = Gated(), InferencePool(1)
    queue = queue_of(model, pool)
    # Two callers about, closely spaced, and a slow model: company is worth waiting for.
    queue.pace = Pace(8, time.monotonic(), gap=0.0001, callers=2.0, predict=10.0)
    first = asyncio.ensure_future(queue.submit(row(0), proba=False))
    assert await asyncio.to_thread(model.started.wait, 5)
    second = asyncio.ensure_future(queue.submit(row(1), proba=False))
    model.gate.set()
    await first
    await asyncio.sleep(0.05)
    assert len(model.calls) == 1  # one caller queued of the two about: waiting for the other
    third = asyncio.ensure_future(queue.submit(row(2), proba=False))  # the first one, back
    async with asyncio.timeout(2):  # long before the 10 s window ends
        await asyncio.gather(second, third)
    pool.shutdown()
    assert [rows for _, rows in model.calls] == [1, 2]


async def test_no_window_is_held_when_callers_come_further_apart_than_it() -> None:
    model, pool = Gated(), InferencePool(1)
    queue = queue_of(model, pool, max_wait_ms=1000)
    queue.pace = Pace(8, time.monotonic(), gap=5.0, callers=8.0)  # one caller every 5 s
    first = asyncio.ensure_future(queue.submit(row(0), proba=False))
    assert await asyncio.to_thread(model.started.wait, 5)
    second = asyncio.ensure_future(queue.submit(row(1), proba=False))
    queue.pace.gap = 5.0  # the close arrival above was the exception
    model.gate.set()
    async with asyncio.timeout(0.9):  # within the 1 s window it would have held
        await asyncio.gather(first, second)
    pool.shutdown()
    assert [rows for _, rows in model.calls] == [1, 1]


async def test_a_quick_model_runs_inline_and_still_batches() -> None:
    model, pool = Recording(), InferencePool(1)
    queue = queue_of(model, pool, inline_allowed=True, inline_max_microseconds=1e6)
    await queue.submit(row(0), proba=False)  # measured in the pool first
    answers = await asyncio.gather(*(queue.submit(row(i), proba=False) for i in range(10)))
    pool.shutdown()
    loop_thread = threading.get_ident()
    assert [rows for rows, _ in model.calls] == [1, 10]
    assert model.calls[0][1] != loop_thread
    assert model.calls[1][1] == loop_thread
    assert [float(answer[0][0]) for answer in answers] == [2.0 * i for i in range(10)]


@pytest.mark.parametrize(
    "options",
    [
        {},  # not allowed: the default
        {"inline_allowed": True, "inline_max_microseconds": 0},  # turned off
        {"inline_allowed": True, "inline_max_microseconds": 1000},  # slower than that
    ],
)
async def test_other_models_stay_in_the_pool(options: dict[str, object]) -> None:
    model, pool = Recording(), InferencePool(1)
    model.pause = 0.005
    queue = queue_of(model, pool, **options)
    for value in range(3):
        await queue.submit(row(value), proba=False)
    pool.shutdown()
    assert threading.get_ident() not in {thread for _, thread in model.calls}


async def test_an_inline_call_past_its_deadline_takes_the_queue_out_of_service() -> None:
    model, pool = Recording(), InferencePool(1)
    queue = queue_of(model, pool, deadline_seconds=0.01, inline_allowed=True)
    queue.inline_max = 1.0
    timed_out: list[bool] = []
    queue.on_timeout = lambda: timed_out.append(True)
    await queue.submit(row(0), proba=False)
    model.pause = 0.05  # now it hangs past the deadline, on the event loop
    with pytest.raises(ModelTimedOut):
        await queue.submit(row(1), proba=False)
    with pytest.raises(ModelTimedOut):
        await queue.submit(row(2), proba=False)
    pool.shutdown()
    assert timed_out == [True]
    assert model.calls[1][1] == threading.get_ident()
