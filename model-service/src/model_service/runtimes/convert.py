"""Compiling a verified model to ONNX, in the verifying child (under its memory and CPU limits):
convert, check what the file holds (onnxcheck.py), run it on the verification rows beside
scikit-learn and measure how far the two differ. Models fitted on DataFrames or with category
features compile with one input per column (inputs.py); the verification rows draw their
categories from the manifest, the only ones the contract admits.

Labels must be identical (value and type); numbers (probabilities, a regression's values) may
differ by MODEL_RUNTIME_TOLERANCE: absolute up to 1, relative beyond (a float32 sum of a
forest's leaves is as exact, relatively, at 1e6 as at 1). A model that does not convert, or
whose answers differ, or that runs slower compiled (one row, timed in the child), serves with
scikit-learn: the verdict says why.
"""

import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from model_service.config import Settings
from model_service.models.bundles import Bundle
from model_service.models.canary import verification_rows
from model_service.models.schemas import build_schemas
from model_service.runtimes import Runtime, RuntimeVerdict
from model_service.runtimes.inputs import LayoutError, initial_types, model_columns
from model_service.runtimes.onnx import OnnxRuntime
from model_service.runtimes.onnxcheck import UnsafeModel, check_model
from model_service.runtimes.scikit import SklearnRuntime, classes_of

# Calls of one row timed for `predict_seconds` (the fastest counts: the machine is shared).
TIMED_CALLS = 10
REASON_CHARS = 300


class NotCompiled(Exception):
    """Why a model serves with its own library; the message is the verdict's reason."""


def to_onnx(bundle: Bundle) -> bytes:
    """The model as an ONNX file with plain tensor outputs; NotCompiled says why not."""
    manifest = bundle.manifest
    if manifest.flavor != "sklearn":
        return _boosted_onnx(bundle)
    # Imported here: only the verifying child, when converting, pays for skl2onnx.
    from skl2onnx import convert_sklearn  # type: ignore[import-untyped]  # noqa: PLC0415
    from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped]  # noqa: PLC0415

    options = {"zipmap": False}
    try:
        if model_columns(manifest) is None:
            types = [("X", FloatTensorType([None, len(manifest.features)]))]
        else:  # one input per column, named and typed as the model was fitted
            types = initial_types(manifest)
        model, topology = convert_sklearn(
            bundle.estimator, initial_types=types, options=options, intermediate=True
        )
    except Exception as exc:  # skl2onnx raises its own kinds for what it cannot convert
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotCompiled(f"skl2onnx cannot convert it: {type(exc).__name__}: {first}") from None
    fitted_names = {var.onnx_name: var.raw_name for var in topology.scopes[0].input_variables}
    _name_inputs(model.graph, fitted_names)
    data: bytes = model.SerializeToString()
    return data


def _boosted_onnx(bundle: Bundle) -> bytes:
    """XGBoost and LightGBM convert through onnxmltools (flavors/onnx_export.py)."""
    from model_service import flavors  # noqa: PLC0415 - only these bundles pay for it

    try:
        data: bytes = flavors.to_onnx(bundle.estimator, bundle.manifest).SerializeToString()
    except flavors.ConversionError as exc:
        raise NotCompiled(str(exc)) from None
    return data


def _name_inputs(graph: Any, fitted_names: dict[str, str]) -> None:
    """Give the graph's inputs back the names the model was fitted with: skl2onnx makes them
    identifiers (`peso (kg)` -> `peso__kg_`), and the service finds each column by name."""
    renamed = {old: new for old, new in fitted_names.items() if old != new}
    if not renamed:
        return
    taken = {name for node in graph.node for name in node.output}
    taken |= {tensor.name for tensor in graph.initializer}
    if taken & set(renamed.values()):
        raise NotCompiled("a feature column is named as a value inside the compiled model")
    for value in graph.input:
        value.name = renamed.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]


def _best_seconds(runtime: Runtime, row: np.ndarray, proba: bool) -> float:
    timings = []
    for _ in range(TIMED_CALLS):
        start = time.perf_counter()
        runtime.predict(row, proba)
        timings.append(time.perf_counter() - start)
    return min(timings)


def _same_labels(mine: np.ndarray, theirs: np.ndarray) -> bool:
    first, second = np.ravel(mine).tolist(), np.ravel(theirs).tolist()
    return len(first) == len(second) and all(
        type(a) is type(b) and a == b for a, b in zip(first, second, strict=True)
    )


def _difference(mine: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference: absolute up to 1, relative beyond."""
    compiled, original = np.asarray(mine, np.float64), np.asarray(theirs, np.float64)
    if compiled.shape != original.shape:
        raise NotCompiled(f"the compiled model answers {compiled.shape}, not {original.shape}")
    if compiled.size == 0:
        return 0.0
    scaled = np.abs(compiled - original) / np.maximum(1.0, np.abs(original))
    return float(np.max(scaled)) if np.all(np.isfinite(scaled)) else float("inf")


def _parity(original: Runtime, compiled: Runtime, rows: np.ndarray, regression: bool) -> float:
    """The largest difference between the two on `rows`; NotCompiled if a label differs."""
    theirs, their_proba = original.predict(rows, True)
    mine, my_proba = compiled.predict(rows, True)
    if regression:
        return _difference(mine, theirs)
    if not _same_labels(mine, theirs):
        raise NotCompiled("the compiled model answers other labels than scikit-learn")
    if their_proba is None:
        return 0.0
    if my_proba is None:
        raise NotCompiled("the compiled model answers no probabilities")
    return _difference(my_proba, their_proba)


def _run(step: Callable[[], Any], verdict: RuntimeVerdict) -> Any:
    try:
        return step()
    except NotCompiled as exc:
        verdict.reason = str(exc)[:REASON_CHARS]
    except (UnsafeModel, LayoutError) as exc:
        verdict.reason = str(exc)
    except MemoryError:
        verdict.reason = "compiling the model ran out of memory"
    except Exception as exc:  # onnxruntime's own errors: the model serves with scikit-learn
        verdict.reason = f"the compiled model failed: {type(exc).__name__}: {exc}"[:REASON_CHARS]
    return None


def compile_bundle(
    bundle: Bundle, settings: Settings, *, validated: bool
) -> tuple[RuntimeVerdict, bytes | None]:
    """The runtime verdict of a verified bundle, and the ONNX file when it may serve."""
    schemas = build_schemas(bundle.manifest, max_rows=1)
    original = SklearnRuntime(bundle.estimator, schemas)
    verdict = RuntimeVerdict(
        classes=classes_of(bundle.estimator), has_proba=original.has_proba, validated=validated
    )
    rows = verification_rows(bundle.manifest, schemas, drawn=settings.runtime_parity_rows)
    verdict.predict_seconds["sklearn"] = _best_seconds(original, rows[:1], original.has_proba)
    model = _run(lambda: _checked_onnx(bundle, settings), verdict)
    if model is None:
        return verdict, None
    columns = model_columns(bundle.manifest)
    compiled = _run(
        lambda: OnnxRuntime(
            model,
            threads=1,
            has_proba=original.has_proba,
            columns=columns,
            classes=verdict.classes,
        ),
        verdict,
    )
    if compiled is None:
        return verdict, None
    regression = bundle.manifest.task == "regression"
    difference = _run(lambda: _parity(original, compiled, rows, regression), verdict)
    if difference is None:
        return verdict, None
    verdict.max_difference = difference
    if not difference <= settings.runtime_tolerance:
        verdict.reason = (
            f"the compiled model's answers differ by {difference:.3g}, more than "
            f"MODEL_RUNTIME_TOLERANCE ({settings.runtime_tolerance:g})"
        )
        return verdict, None
    timings = verdict.predict_seconds
    timings["onnxruntime"] = _best_seconds(compiled, rows[:1], verdict.has_proba)
    verdict.reason = _slower(timings)
    if verdict.reason is not None:
        return verdict, None
    verdict.name, verdict.onnx_sha256 = "onnxruntime", hashlib.sha256(model).hexdigest()
    return verdict, model


def _slower(timings: dict[str, float]) -> str | None:
    """Why the compiled model must not serve although it agrees: it is slower (a brute-force
    neighbours model, say)."""
    compiled, original = timings["onnxruntime"], timings["sklearn"]
    if compiled <= original:
        return None
    return f"the compiled model is slower: {compiled:.2g} s per row, scikit-learn {original:.2g} s"


def _checked_onnx(bundle: Bundle, settings: Settings) -> bytes:
    model = to_onnx(bundle)
    if len(model) > settings.max_onnx_bytes:
        raise NotCompiled(f"the compiled model is larger than MODEL_MAX_ONNX_BYTES ({len(model)})")
    check_model(model)
    return model
