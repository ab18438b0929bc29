"""Which runtime serves a verified version (in the serving process).

onnxruntime, when the child's verdict names it, MODEL_RUNTIME is `auto` and the compiled file
(whose sha256 the verdict pins) holds only standard operators and no external data; then the
model file is checked (sha256) but not loaded, and scikit-learn is not imported. Otherwise the
estimator is loaded and serves, with the reason shown in the metadata and the log.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from model_service.config import Settings
from model_service.models.bundles import BundleError, check_files, load_bundle
from model_service.models.schemas import ModelSchemas
from model_service.models.verify import Verified
from model_service.runtimes import Runtime
from model_service.runtimes.inputs import model_columns
from model_service.runtimes.onnx import OnnxRuntime
from model_service.runtimes.onnxcheck import UnsafeModel, check_model
from shared_schemas.inference import RuntimeInfo
from shared_schemas.manifest import Manifest

FORCED = "MODEL_RUNTIME=sklearn"


@dataclass
class Chosen:
    """The runtime that serves a version, and what the metadata says of it."""

    manifest: Manifest
    schemas: ModelSchemas
    runtime: Runtime
    info: RuntimeInfo
    classes: list[Any] | None
    # The structure was validated throughout (no pickle, no MODEL_UNVALIDATED_TYPES).
    inline_safe: bool = False
    # One row's predict time per runtime, as the child measured it.
    predict_seconds: dict[str, float] = field(default_factory=dict)


Schemas = Callable[[Manifest], ModelSchemas]


def choose(verified: Verified, settings: Settings, schemas_of: Schemas) -> Chosen:
    """The compiled runtime where the verdict allows it, else scikit-learn; `schemas_of`
    builds the version's schemas (once)."""
    verdict = verified.verdict
    reason: str | None = FORCED if settings.runtime == "sklearn" else None
    if reason is None and verdict.name == "onnxruntime" and verified.compiled is not None:
        manifest, _ = check_files(verified.folder, settings, verified.manifest_raw)
        try:
            check_model(verified.compiled)
        except UnsafeModel as exc:
            raise BundleError(str(exc)) from None
        try:
            runtime = OnnxRuntime(
                verified.compiled,
                threads=settings.onnx_threads,
                has_proba=verdict.has_proba,
                classes=verdict.classes,
                columns=model_columns(manifest),
            )
        except Exception as exc:  # onnxruntime refused what the child ran: scikit-learn serves
            reason = f"onnxruntime could not load the compiled model: {type(exc).__name__}"
        else:
            return Chosen(
                manifest=manifest,
                schemas=schemas_of(manifest),
                runtime=runtime,
                info=verdict.info("onnxruntime"),
                classes=verdict.classes,
                inline_safe=verdict.validated,
                predict_seconds=verdict.predict_seconds,
            )
    return _scikit_learn(verified, settings, schemas_of, reason)


def _scikit_learn(
    verified: Verified, settings: Settings, schemas_of: Schemas, reason: str | None
) -> Chosen:
    # scikit-learn is imported here, by the first version it serves.
    from model_service.runtimes.scikit import SklearnRuntime, classes_of  # noqa: PLC0415

    bundle = load_bundle(verified.folder, settings, manifest_raw=verified.manifest_raw)
    schemas = schemas_of(bundle.manifest)
    verdict = verified.verdict
    runtime = SklearnRuntime(bundle.estimator, schemas)
    return Chosen(
        manifest=bundle.manifest,
        schemas=schemas,
        runtime=runtime,
        info=verdict.info(runtime.name, reason),
        classes=classes_of(bundle.estimator),
        inline_safe=verdict.validated,
        predict_seconds=verdict.predict_seconds,
    )
