"""Adaptive batching: concurrent requests for one model coalesce into one `predict` call.

A lone request is dispatched at once (batching must not tax it). While a batch runs, newcomers
queue; when it finishes they go together, up to `max_batch_size` rows, after waiting at most
`max_wait_ms` from the oldest one's arrival for more company. Inference runs in a worker thread
so the event loop keeps accepting; every caller gets exactly its own rows back, in order.

A predict call that overruns its deadline takes the queue out of service: the callers waiting
get 503, and so does every later one, until the version is loaded again (a new queue).
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from model_service.errors import ModelTimedOut
from model_service.models.workers import InferencePool, InferenceTimedOut

Predict = Callable[[np.ndarray, bool], tuple[np.ndarray, np.ndarray | None]]


@dataclass
class _Request:
    rows: np.ndarray
    proba: bool
    future: asyncio.Future[tuple[np.ndarray, np.ndarray | None]]
    arrived: float = field(default_factory=time.monotonic)


class BatchQueue:
    """The batching queue of one model version."""

    def __init__(
        self,
        predict: Predict,
        *,
        pool: InferencePool,
        deadline_seconds: float,
        max_batch_size: int,
        max_wait_ms: float,
    ) -> None:
        self.predict = predict
        self.pool = pool
        self.deadline = deadline_seconds
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.pending: deque[_Request] = deque()
        self.queued_rows = 0  # rows in `pending`, kept as they come and go
        # Set when the queued rows fill a batch: the gatherer then stops waiting at once. Only
        # then: a wake per arrival cost a task switch and a timer each under load.
        self.full = asyncio.Event()
        self.running = False
        self.on_batch: Callable[[int], None] | None = None  # metrics: rows per batch
        self.on_timeout: Callable[[], None] | None = None  # the registry takes the version out
        self.timed_out = False

    async def submit(
        self, rows: np.ndarray, *, proba: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (and probabilities when asked) for `rows`, batched with others."""
        if self.timed_out:
            raise ModelTimedOut(self.deadline)
        future: asyncio.Future[tuple[np.ndarray, np.ndarray | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self.pending.append(_Request(rows, proba, future))
        self.queued_rows += len(rows)
        if self.queued_rows >= self.max_batch_size:
            self.full.set()
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            first = True
            while self.pending:
                if not first:
                    await self._gather_company()
                first = False
                await self._run(self._take())
        finally:
            self.running = False

    async def _gather_company(self) -> None:
        # Woken when a batch is full, or at the window's end (a timer that fires early, as
        # uvloop's millisecond ones may, only goes round the loop again).
        deadline = self.pending[0].arrived + self.max_wait
        while self.queued_rows < self.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.full.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self.full.wait()

    def _take(self) -> list[_Request]:
        batch = [self.pending.popleft()]
        rows = len(batch[0].rows)
        while self.pending and rows + len(self.pending[0].rows) <= self.max_batch_size:
            request = self.pending.popleft()
            rows += len(request.rows)
            batch.append(request)
        self.queued_rows -= rows
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        rows = (
            np.concatenate([request.rows for request in batch]) if len(batch) > 1 else batch[0].rows
        )
        proba = any(request.proba for request in batch)
        if self.on_batch is not None:
            self.on_batch(len(rows))
        try:
            predictions, probabilities = await self.pool.run(
                partial(self.predict, rows, proba), deadline_seconds=self.deadline
            )
        except InferenceTimedOut:
            self._out_of_service(batch)
            return
        except Exception as exc:
            if len(batch) > 1:  # perhaps one caller's rows: each runs alone to learn its own fate
                for request in batch:
                    await self._run([request])
                return
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        start = 0
        for request in batch:
            end = start + len(request.rows)
            wanted = (
                probabilities[start:end] if probabilities is not None and request.proba else None
            )
            if not request.future.done():
                request.future.set_result((predictions[start:end], wanted))
            start = end

    def _out_of_service(self, batch: list[_Request]) -> None:
        # Never retried: the same rows, or any others, may hang the model again.
        self.timed_out = True
        waiting = [*batch, *self.pending]
        self.pending.clear()
        self.queued_rows = 0
        for request in waiting:
            if not request.future.done():
                request.future.set_exception(ModelTimedOut(self.deadline))
        if self.on_timeout is not None:
            self.on_timeout()
