"""Adaptive batching: concurrent requests for one model coalesce into one `predict` call.

A lone request is dispatched at once (batching must not tax it). While a batch runs, newcomers
queue; when it ends they go together, up to `max_batch_size` rows, once company has come:
- the queue waits for as many callers as were about when recent batches ended (running plus
  queued): at low concurrency the callers just answered come straight back (each client is a
  closed loop), and a batch sent without them leaves the next half empty. It waits at most
  `max_wait_ms` from the batch's end, and no longer than a predict call takes (waiting must
  cost less than the call it saves); not at all when it already holds that many or when
  callers arrive further apart than `max_wait_ms` (nobody is coming soon: pace.py measures it);
- until it has seen a few arrivals it waits as it always did: at most `max_wait_ms` from the
  oldest one's arrival.
Inference runs in a worker thread so the event loop keeps accepting; every caller gets exactly
its own rows back, in order. A queue made with `inline_allowed` (a model whose structure was
validated and whose canary ran quickly) runs its batches on the event loop instead while its
measured predict time stays under `inline_max_microseconds`: a thread hop costs more than such a
call. It then waits for no company (whatever queued while a call ran goes next, batched).

A predict call that overruns its deadline takes the queue out of service: the callers waiting
get 503, and so does every later one, until the version is loaded again (a new queue). An inline
call cannot be interrupted: it is judged when it returns.
"""

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from model_service.config import Settings
from model_service.errors import ModelTimedOut
from model_service.models.pace import Pace, now
from model_service.models.workers import InferencePool, InferenceTimedOut

Answer = tuple[np.ndarray, np.ndarray | None]
Predict = Callable[[np.ndarray, bool], Answer]
INLINE_MAX_MICROSECONDS: float = Settings.model_fields["inline_max_microseconds"].default
logger = logging.getLogger("servir.models")


@dataclass
class _Request:
    rows: np.ndarray
    proba: bool
    future: asyncio.Future[tuple[np.ndarray, np.ndarray | None]]
    arrived: float = field(default_factory=now)


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
        inline_allowed: bool = False,
        inline_max_microseconds: float = INLINE_MAX_MICROSECONDS,
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
        self.enough = sys.maxsize  # callers awaited while gathering company (a wake too)
        self.running = False
        self.pace = Pace()
        self.inline_allowed = inline_allowed
        self.inline_max = inline_max_microseconds / 1e6
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
        request = _Request(rows, proba, future)
        self.pace.arrived(request.arrived)
        self.pending.append(request)
        self.queued_rows += len(rows)
        if self.queued_rows >= self.max_batch_size or len(self.pending) >= self.enough:
            self.full.set()
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            first = True
            while self.pending:
                if not first and not self._inline():
                    await self._gather_company()
                first = False
                batch = self._take()
                await self._run(batch)
                self.pace.batch_ended(len(batch), len(self.pending))
        finally:
            self.running = False

    def _inline(self) -> bool:
        measured = self.pace.predict
        return self.inline_allowed and measured is not None and measured < self.inline_max

    async def _gather_company(self) -> None:
        pace = self.pace
        if not pace.warm:
            await self._wait_until(self.pending[0].arrived + self.max_wait)
            return
        expected = round(pace.callers or 0)
        if len(self.pending) >= expected or (pace.gap or 0) > self.max_wait:
            return
        # Waiting pays while it costs less than the predict call it saves.
        window = min(self.max_wait, pace.predict if pace.predict is not None else self.max_wait)
        self.enough = expected
        try:
            await self._wait_until(now() + window)
        finally:
            self.enough = sys.maxsize

    async def _wait_until(self, deadline: float) -> None:
        # Woken when a batch is full or the awaited callers are in, or at the window's end (a
        # timer that fires early, as uvloop's millisecond ones may, only goes round again).
        while self.queued_rows < self.max_batch_size and len(self.pending) < self.enough:
            remaining = deadline - now()
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
            predictions, probabilities = await self._call(rows, proba)
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

    async def _call(self, rows: np.ndarray, proba: bool) -> Answer:
        if not self._inline():
            call = partial(self._timed, rows, proba)
            answer: Answer = await self.pool.run(call, deadline_seconds=self.deadline)
            return answer
        started = time.perf_counter()
        try:
            return self._timed(rows, proba)
        finally:
            self._judge_inline(time.perf_counter() - started)

    def _timed(self, rows: np.ndarray, proba: bool) -> Answer:
        """The predict call, its time measured (in a worker thread, or inline)."""
        started = time.perf_counter()
        try:
            return self.predict(rows, proba)
        finally:
            self.pace.predicted(time.perf_counter() - started)

    def _judge_inline(self, seconds: float) -> None:
        """An inline call past the deadline is a timeout too, known only once it returned."""
        if seconds > self.deadline:
            logger.error("inline inference overran its deadline", extra={"seconds": seconds})
            raise InferenceTimedOut(f"no answer within {self.deadline:g} s")

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
