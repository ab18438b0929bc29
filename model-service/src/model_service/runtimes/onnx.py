"""Serving with onnxruntime: the model as the verifying child compiled it to ONNX.

One float32 input `[rows, features]` in manifest order, or one input per feature column for
models fitted on DataFrames or with category features (inputs.py); outputs as skl2onnx writes
them with ZipMap off: the labels, then (classifiers) the probabilities as a plain tensor, or
(regressors) the values as `[rows, 1]`. onnxruntime is imported here only, so a replica
serving no compiled model never pays for it.
"""

from typing import Any

import numpy as np

from model_service.runtimes.inputs import Column, feed, layout
from shared_schemas.inference import RuntimeName

# float32 holds about 7 digits: probabilities of a tie, summed in float32, differ by less.
TIE = 1e-6


def session(model: bytes, threads: int) -> Any:
    """An inference session on the CPU, `threads` for each operator and between them."""
    # Imported here: only replicas serving a compiled model pay for onnxruntime.
    import onnxruntime as ort  # type: ignore[import-untyped]  # noqa: PLC0415

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: its warnings are about graph rewrites
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


class OnnxRuntime:
    """The compiled model in an onnxruntime session."""

    name: RuntimeName = "onnxruntime"
    platform = "onnxruntime"

    def __init__(
        self,
        model: bytes,
        *,
        threads: int,
        has_proba: bool,
        columns: tuple[str, ...] | None = None,
        classes: list[Any] | None = None,
    ) -> None:
        """`columns`: the model's feature columns when it takes one input per column
        (inputs.model_columns); LayoutError when its inputs are not those. `classes`: a
        classifier's labels in the order of its probabilities, to break ties as scikit-learn
        does (below)."""
        self.session = session(model, threads)
        inputs = self.session.get_inputs()
        self.input = inputs[0].name
        self.columns: tuple[Column, ...] | None = None
        if columns is not None:
            self.columns = layout([(i.name, i.type) for i in inputs], columns)
        outputs = [output.name for output in self.session.get_outputs()]
        self.has_proba = has_proba
        # The probabilities are asked for only when they are wanted: a forest's labels alone
        # are cheaper.
        self.labels = outputs[:1]
        self.both = outputs[:2] if has_proba else outputs[:1]
        self.classes = np.asarray(classes) if has_proba and classes else None
        if self.classes is not None:
            self.labels = self.both  # the labels come from the probabilities

    def predict(self, given: np.ndarray, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The labels or values, and the probabilities when asked and the model has them."""
        if self.columns is None:
            fed = {self.input: np.ascontiguousarray(given, dtype=np.float32)}
        else:
            fed = feed(self.columns, given)
        wanted = proba and self.has_proba
        answered = self.session.run(self.both if wanted else self.labels, fed)
        if self.classes is not None:
            probabilities = _normalised(answered[1])
            predictions = self.classes[_first_of_the_best(probabilities)]
            return predictions, probabilities if wanted else None
        predictions = np.asarray(answered[0])
        if predictions.ndim == 2 and predictions.shape[1] == 1:  # a regressor's [rows, 1]
            predictions = predictions[:, 0]
        if predictions.dtype == np.float32:  # as scikit-learn answers: float64
            predictions = predictions.astype(np.float64)
        if not wanted:
            return predictions, None
        return predictions, _normalised(answered[1])


def _normalised(computed: Any) -> np.ndarray:
    """Probabilities computed in float32, summed again in float64: each row adds up to 1 as
    scikit-learn's do."""
    probabilities = np.asarray(computed, dtype=np.float64)
    normalised: np.ndarray = probabilities / probabilities.sum(axis=1, keepdims=True)
    return normalised


def _first_of_the_best(probabilities: np.ndarray) -> np.ndarray:
    """Per row, the first class whose probability is the highest within float32's rounding.

    scikit-learn answers the first class of a tie (a 50-tree forest voting 25 to 25 answers
    0.5 and 0.5, and numpy's argmax takes the first); onnxruntime sums the votes in float32
    (0.49999994 and 0.50000006) and its own label took the second: 3 of 2,000 random rows
    of such a forest. Classes closer than TIE apart are a tie here too.
    """
    best = probabilities.max(axis=1, keepdims=True)
    chosen: np.ndarray = np.argmax(probabilities >= best - TIE, axis=1)
    return chosen
