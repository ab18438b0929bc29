"""Prometheus metrics of the model-service, per model and version.

A registry per app (not the process-global one), so several apps in one test process do not
collide.
"""

from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from shared_schemas.manifest import Manifest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SMALL_ROWS = 4  # up to this many rows, the training range is checked in Python
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


@dataclass(frozen=True)
class TrainingRange:
    """The numeric features with a training min..max, as arrays built once per model."""

    columns: list[int]
    features: list[str]
    low: np.ndarray
    high: np.ndarray
    every_column: bool  # every feature has a range: the rows need no column selection

    @cached_property
    def plain(self) -> list[tuple[int, float, float]]:
        """(column, low, high) per feature with a range, as Python numbers."""
        return list(zip(self.columns, self.low.tolist(), self.high.tolist(), strict=True))

    def inside(self, rows: list[list[Any]]) -> bool:
        """Whether every value of these few rows lies in its feature's training range.

        In Python: for a row or two, a dozen numpy calls cost ten times these comparisons."""
        plain = self.plain
        return all(low <= row[column] <= high for row in rows for column, low, high in plain)

    @classmethod
    def of(cls, manifest: Manifest) -> "TrainingRange | None":
        """The manifest's training ranges, or None when it records none."""
        stats = manifest.training_stats or {}
        found = [
            (index, feature.name, known.min, known.max)
            for index, feature in enumerate(manifest.features)
            if feature.type in {"float", "int"}
            and (known := stats.get(feature.name)) is not None
            and known.min is not None
            and known.max is not None
        ]
        if not found:
            return None
        return cls(
            columns=[index for index, _, _, _ in found],
            features=[name for _, name, _, _ in found],
            low=np.array([low for _, _, low, _ in found]),
            high=np.array([high for _, _, _, high in found]),
            every_column=len(found) == len(manifest.features),
        )


@dataclass(frozen=True)
class VersionMetrics:
    """One version's children of the per-request metrics."""

    requests: Counter
    latency: Histogram


class ModelMetrics:
    """Requests, errors, latency, batch sizes, inference timeouts, out-of-training-range
    inputs and each version's runtime."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._versions: dict[tuple[str, str], VersionMetrics] = {}
        labels = ["model", "version"]
        self.requests = Counter(
            "servir_model_requests", "Prediction requests", labels, registry=self.registry
        )
        self.errors = Counter(
            "servir_model_errors",
            "Failed prediction requests",
            [*labels, "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "servir_model_request_seconds",
            "Prediction latency, validation to answer",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "servir_model_batch_rows",
            "Rows per predict call",
            labels,
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.inference_timeouts = Counter(
            "servir_model_inference_timeouts",
            "Predict calls that overran MODEL_INFERENCE_TIMEOUT_SECONDS (the version was taken "
            "out of service and its worker thread abandoned)",
            labels,
            registry=self.registry,
        )
        self.out_of_range = Counter(
            "servir_model_inputs_out_of_training_range",
            "Input values outside the feature's training min..max (a drift signal)",
            [*labels, "feature"],
            registry=self.registry,
        )

        self.runtime_info = Gauge(
            "servir_model_runtime_info",
            "What runs each loaded version's predictions (1 per version: sklearn or onnxruntime)",
            [*labels, "runtime"],
            registry=self.registry,
        )

    def forget_runtime(self, name: str, version: str, runtime: str) -> None:
        """A version no longer served (or replaced) leaves the runtime gauge."""
        with suppress(KeyError):
            self.runtime_info.remove(name, version, runtime)

    def count_out_of_range(
        self, name: str, version: str, rows: np.ndarray, training: "TrainingRange"
    ) -> None:
        """Count values outside each numeric feature's training range (one vectorised pass)."""
        if len(rows) <= SMALL_ROWS and training.inside(rows.tolist()):
            return  # the common case, on every request: no numpy call at all
        values = rows if training.every_column else rows[:, training.columns]
        values = values.astype(np.float64, copy=False)
        outside = (values < training.low) | (values > training.high)
        if not outside.any():
            return
        counts = outside.sum(axis=0).tolist()
        for feature, count in zip(training.features, counts, strict=True):
            if count:
                self.out_of_range.labels(name, version, feature).inc(count)

    def of_version(self, name: str, version: str) -> "VersionMetrics":
        """The version's request counter and latency histogram, looked up once (a labels()
        call takes a lock and builds a key: a few microseconds on every request)."""
        found = self._versions.get((name, version))
        if found is None:
            found = VersionMetrics(
                requests=self.requests.labels(name, version),
                latency=self.latency.labels(name, version),
            )
            self._versions[(name, version)] = found
        return found

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
