"""A loaded model version: what serves its predictions, and what the service knows of it."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_service.errors import ModelError
from model_service.metrics import TrainingRange
from model_service.models.batching import BatchQueue
from model_service.models.schemas import ModelSchemas
from model_service.runtimes import Runtime
from shared_schemas.inference import RuntimeInfo
from shared_schemas.manifest import Manifest


@dataclass
class ModelVersion:
    """One loaded version: its manifest, runtime, generated schemas and batch queue."""

    manifest: Manifest
    runtime: Runtime
    schemas: ModelSchemas
    classes: list[Any] | None = None
    # Training ranges of numeric features, for the drift counters.
    training_range: TrainingRange | None = None
    # What the metadata says of the runtime (which, and why not the compiled one).
    runtime_info: RuntimeInfo | None = None
    # The whole structure was validated (no pickle, no MODEL_UNVALIDATED_TYPES): a predict
    # cannot hang or crash on it, so it may run inline on the event loop when fast enough.
    inline_safe: bool = False
    # One row's predict time per runtime, measured by the verifying child.
    predict_seconds: dict[str, float] = field(default_factory=dict)
    queue: BatchQueue = field(init=False)

    @property
    def has_proba(self) -> bool:
        """Whether the model can answer probabilities."""
        return self.runtime.has_proba

    def may_run_inline(self, max_microseconds: float) -> bool:
        """Whether the batch queue may predict on the event loop: the structure was validated
        and the child's one-row canary ran under the threshold (the queue then holds the model
        to its own measurements). The child times the original library under `sklearn`."""
        key = "onnxruntime" if self.runtime.name == "onnxruntime" else "sklearn"
        measured = self.predict_seconds.get(key)
        return self.inline_safe and measured is not None and measured * 1e6 < max_microseconds

    def predict(self, rows: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Run the model (in a worker thread, called by the batch queue).

        The rows fit the model's contract (numbers finite and within float32), so whatever the
        runtime raises is the model's failure: ModelError, carrying the cause for the log.
        """
        try:
            predictions, probabilities = self.runtime.predict(rows, proba)
            if not (_finite(predictions) and (probabilities is None or _finite(probabilities))):
                # onnxruntime answers an overflow with inf or NaN where scikit-learn raised
                raise ValueError("the model answered values that are not finite")
        except Exception as exc:  # anything the model raises here is the model's failure
            raise ModelError(self.manifest.name, self.manifest.version) from exc
        return predictions, probabilities


def _finite(values: np.ndarray) -> bool:
    return values.dtype.kind != "f" or bool(np.isfinite(values).all())
