"""Inference worker threads with a deadline: a call that overruns it is abandoned, not awaited.

A Python thread cannot be killed. A worker stuck in a model (a tree whose root points to itself
loops for ever) is left behind and a fresh worker takes its place, so the pool keeps its size
and the other models keep serving. Workers are daemon threads, so a stuck one cannot hold up
the process's exit. The deadline runs from the moment a worker starts the call: waiting in the
queue behind other models' work does not count against a model.
"""

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("servir.models")


class InferenceTimedOut(Exception):
    """The call overran its deadline; the worker running it was abandoned."""


@dataclass(eq=False)
class _Job:
    call: Callable[[], Any]
    timeout: float
    loop: asyncio.AbstractEventLoop
    future: "asyncio.Future[Any]"
    worker: threading.Thread | None = None  # set by the worker that takes the job
    timer: asyncio.TimerHandle | None = field(default=None)


class InferencePool:
    """`threads` daemon workers running blocking calls, each call under a deadline."""

    def __init__(self, threads: int, *, name: str = "infer") -> None:
        self.name = name
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.working: set[threading.Thread] = set()
        self.abandoned: set[threading.Thread] = set()
        self.spawned = 0
        for _ in range(threads):
            self._spawn()

    async def run(self, call: Callable[[], Any], *, deadline_seconds: float) -> Any:
        """The call's result (or exception); InferenceTimedOut once it runs past the deadline."""
        loop = asyncio.get_running_loop()
        job = _Job(call, deadline_seconds, loop, loop.create_future())
        self.jobs.put(job)
        return await job.future

    def shutdown(self) -> None:
        """Let the working threads go once the queue is empty; never wait for a stuck one."""
        with self.lock:
            count = len(self.working)
        for _ in range(count):
            self.jobs.put(None)

    def _spawn(self) -> None:
        self.spawned += 1
        worker = threading.Thread(
            target=self._work, name=f"{self.name}-{self.spawned}", daemon=True
        )
        with self.lock:
            self.working.add(worker)
        worker.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while (job := self.jobs.get()) is not None:
            job.worker = me
            if not _on_loop(job, self._started, job):
                continue  # its event loop is gone
            try:
                outcome: tuple[Any, BaseException | None] = (job.call(), None)
            except BaseException as exc:  # handed to the caller, as an executor does
                outcome = (None, exc)
            _on_loop(job, self._finished, job, outcome)
            with self.lock:
                if me in self.abandoned:  # replaced while it was stuck: leave
                    self.abandoned.discard(me)
                    return
        with self.lock:
            self.working.discard(me)

    def _started(self, job: _Job) -> None:
        if not job.future.done():
            job.timer = job.loop.call_later(job.timeout, self._expire, job)

    def _finished(self, job: _Job, outcome: tuple[Any, BaseException | None]) -> None:
        if job.timer is not None:
            job.timer.cancel()
        if job.future.done():
            return
        result, error = outcome
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    def _expire(self, job: _Job) -> None:
        if job.future.done():
            return
        with self.lock:
            if job.worker in self.working:
                self.working.discard(job.worker)
                self.abandoned.add(job.worker)
        logger.error(
            "inference overran its deadline; its worker is abandoned and replaced",
            extra={"timeout_seconds": job.timeout, "worker": getattr(job.worker, "name", None)},
        )
        self._spawn()
        job.future.set_exception(InferenceTimedOut(f"no answer within {job.timeout:g} s"))


def _on_loop(job: _Job, callback: Callable[..., None], *args: Any) -> bool:
    """Run `callback(*args)` on the job's event loop; False when that loop is closed."""
    try:
        job.loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        return False
    return True
