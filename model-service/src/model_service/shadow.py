"""Shadow traffic: a sampled copy of a split request goes to another version of the model,
whose answer is compared with the served one, counted and dropped.

The caller never waits for it (the copy is a task started once the served answer is known) and
never sees its errors. At most MODEL_SHADOW_MAX_IN_FLIGHT copies run at once on a replica;
beyond that new ones are dropped and counted, so a slow shadow cannot pile up work. Labels are
compared exactly; numbers (a regressor's) agree within 1e-6, relative.
"""

import asyncio
import logging
import random
import time

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram

from model_service.metrics import LATENCY_BUCKETS
from model_service.models.registry import ModelVersion, Registry

logger = logging.getLogger("servir.models")


class ShadowMetrics:
    """Copies by outcome, rows by agreement, and the shadow's latency, per shadow version."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["model", "version"]
        self.copies = Counter(
            "servir_model_shadow_requests",
            "Shadow copies by outcome: compared, failed (the shadow raised or is gone), or "
            "dropped (MODEL_SHADOW_MAX_IN_FLIGHT copies were running)",
            [*labels, "outcome"],
            registry=registry,
        )
        self.rows = Counter(
            "servir_model_shadow_rows",
            "Rows a shadow answered, by whether it agreed with the served version",
            [*labels, "agreement"],
            registry=registry,
        )
        self.latency = Histogram(
            "servir_model_shadow_seconds",
            "The shadow version's time for a copy, queue included",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class Shadows:
    """Starts, bounds and judges this replica's shadow copies."""

    def __init__(self, registry: Registry, metrics: ShadowMetrics, max_in_flight: int) -> None:
        self.registry = registry
        self.metrics = metrics
        self.max_in_flight = max_in_flight
        self.tasks: set[asyncio.Task[None]] = set()

    def copy(self, served: ModelVersion, rows: np.ndarray, answers: np.ndarray) -> None:
        """Send a sample of a split request's rows to the model's shadow, if it has one."""
        name = served.manifest.name
        split = self.registry.aliases.splits.get(name)
        spec = split.spec.shadow if split is not None else None
        if spec is None or spec.version == served.manifest.version:
            return
        if random.random() >= spec.sample_rate:  # noqa: S311 (a sample, not a secret)
            return
        if len(self.tasks) >= self.max_in_flight:
            self.metrics.copies.labels(name, spec.version, "dropped").inc()
            return
        shadow = self.registry.models.get(name, {}).get(spec.version)
        if shadow is None:  # unloaded here since the split was set
            self.metrics.copies.labels(name, spec.version, "failed").inc()
            return
        task = asyncio.get_running_loop().create_task(self._compare(shadow, rows, answers))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _compare(self, shadow: ModelVersion, rows: np.ndarray, answers: np.ndarray) -> None:
        labels = (shadow.manifest.name, shadow.manifest.version)
        started = time.perf_counter()
        try:
            predicted, _ = await shadow.queue.submit(rows, proba=False)
        except Exception as exc:  # the shadow's own failure: counted, never the caller's
            self.metrics.copies.labels(*labels, "failed").inc()
            reason = type(exc).__name__
            logger.info(
                "shadow failed", extra={"model": labels[0], "version": labels[1], "reason": reason}
            )
            return
        self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
        self.metrics.copies.labels(*labels, "compared").inc()
        agreeing = int(_agreeing(np.asarray(predicted), np.asarray(answers)).sum())
        if agreeing:
            self.metrics.rows.labels(*labels, "agree").inc(agreeing)
        if agreeing < len(answers):
            self.metrics.rows.labels(*labels, "disagree").inc(len(answers) - agreeing)

    async def close(self) -> None:
        """Cancel the copies still running (at shutdown)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _agreeing(shadow: np.ndarray, served: np.ndarray) -> np.ndarray:
    """Per row: the same label, or a number within 1e-6 (relative) of the served one."""
    if shadow.shape != served.shape:
        return np.zeros(len(served), dtype=bool)
    if shadow.dtype.kind in "fc" and served.dtype.kind in "fc":
        return np.asarray(np.isclose(shadow, served, rtol=1e-6, atol=1e-12), dtype=bool)
    return np.asarray(shadow == served, dtype=bool)
