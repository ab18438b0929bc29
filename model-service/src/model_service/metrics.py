"""Prometheus metrics of the model-service, per model and version.

A registry per app (not the process-global one), so several apps in one test process do not
collide.
"""

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ModelMetrics:
    """Requests, errors, latency, batch sizes and out-of-training-range inputs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.out_of_range = Counter(
            "servir_model_inputs_out_of_training_range",
            "Input values outside the feature's training min..max (a drift signal)",
            [*labels, "feature"],
            registry=self.registry,
        )

    def count_out_of_range(
        self,
        name: str,
        version: str,
        rows: np.ndarray,
        columns: list[tuple[int, str, float, float]],
    ) -> None:
        """Count values outside each numeric feature's training range (one vectorised pass)."""
        indexes = [index for index, _, _, _ in columns]
        values = rows[:, indexes].astype(np.float64, copy=False)
        low = np.array([low for _, _, low, _ in columns])
        high = np.array([high for _, _, _, high in columns])
        outside = ((values < low) | (values > high)).sum(axis=0)
        for (_, feature, _, _), count in zip(columns, outside.tolist(), strict=True):
            if count:
                self.out_of_range.labels(name, version, feature).inc(count)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
