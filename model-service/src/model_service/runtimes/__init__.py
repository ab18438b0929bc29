"""What runs a loaded version's predictions: scikit-learn itself, or the model compiled to ONNX
and run by onnxruntime (issue 14).

The verifying child converts each model, checks that both answer alike on the verification
rows and reports a verdict (`RuntimeVerdict`); the service serves the compiled model only on
that verdict (choose.py). Nothing here imports scikit-learn or onnxruntime: each runtime's
module does, and only the one that serves is imported.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from shared_schemas.inference import RuntimeInfo, RuntimeName


class Runtime(Protocol):
    """Predictions for rows that fit the model's contract (an array in manifest order)."""

    name: RuntimeName
    # The V2 metadata's `platform`.
    platform: str
    has_proba: bool

    def predict(self, given: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The predictions, and the probabilities when asked and the model has them."""
        ...


@dataclass
class RuntimeVerdict:
    """What the verifying child measured, as recorded in `.verified/<key>`.

    `name` is the runtime that may serve; `reason` says why not the compiled one;
    `max_difference` is the largest difference between the two on the verification rows;
    `onnx_sha256` pins the compiled file next to the verdict; `validated` says the model's
    whole structure was checked (no pickle, no MODEL_UNVALIDATED_TYPES); `predict_seconds` is
    one row's predict time per runtime, measured in the child.
    """

    name: RuntimeName = "sklearn"
    reason: str | None = None
    max_difference: float | None = None
    classes: list[Any] | None = None
    has_proba: bool = False
    onnx_sha256: str | None = None
    validated: bool = False
    predict_seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The verdict as the child reports it and the store records it."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RuntimeVerdict":
        """A recorded verdict; unknown keys are ignored (a newer service's)."""
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)

    def info(self, name: RuntimeName, reason: str | None = None) -> RuntimeInfo:
        """The metadata of the runtime that serves (`name`, not always the verdict's)."""
        shown = reason if reason is not None else self.reason
        return RuntimeInfo(name=name, reason=shown, max_difference=self.max_difference)
