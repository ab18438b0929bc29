"""`python -m model_service.models.verify_child`: verify bundles for the service (verify.py).

Reads the settings and the folders as JSON on stdin; limits its own address space and CPU;
says `ready` once its imports are done, then one JSON line per folder: the sha256 of the
manifest it read and the reason the bundle must not serve (null: it may). Each bundle is
loaded, validated and test-predicted: synthetic rows, then its own examples (examples.py).
A bundle that may serve is then compiled to ONNX and compared (runtimes/convert.py): the line
carries the runtime verdict and the compiled file (base64) when it may serve.
"""

import base64
import hashlib
import json
import resource
import sys
from pathlib import Path
from typing import Any

from model_service.config import Settings
from model_service.models.bundles import (
    PICKLE_FILES,
    Bundle,
    BundleError,
    load_bundle,
    manifest_bytes,
)
from model_service.models.examples import check_predictions
from model_service.models.validation import StructureError, validate_estimator
from model_service.runtimes import RuntimeVerdict
from model_service.runtimes.convert import compile_bundle

# A refusal's reason is shown to the uploader and in /readyz: long enough for two values.
REASON_CHARS = 500


def _verify_one(folder: Path, settings: Settings) -> dict[str, Any]:
    report: dict[str, Any] = {"folder": str(folder), "manifest_sha256": None, "reason": None}
    try:
        raw = manifest_bytes(folder)
        report["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
        bundle = load_bundle(folder, settings, manifest_raw=raw)
    except BundleError as exc:
        report["reason"] = str(exc)
        return report
    try:
        check_predictions(bundle, settings.example_tolerance)
    except BundleError as exc:  # a row the model fails on, or answers wrongly
        report["reason"] = str(exc)[:REASON_CHARS]
    except MemoryError:
        report["reason"] = "the test predictions ran out of memory"
    except Exception as exc:  # whatever else fails there, the bundle does not serve
        report["reason"] = f"the test predictions failed: {type(exc).__name__}: {exc}"
        report["reason"] = report["reason"][:REASON_CHARS]
    if report["reason"] is None:
        _compile(bundle, settings, report)
    return report


def _validated(bundle: Bundle, settings: Settings) -> bool:
    """Whether every object in the model was checked (none merely vouched for by
    MODEL_UNVALIDATED_TYPES, and no pickle): the lead's condition for predicting inline."""
    if bundle.manifest.model_file in PICKLE_FILES:
        return False
    if not settings.unvalidated_types:
        return True
    try:
        validate_estimator(bundle.estimator, unvalidated_types=[])
    except StructureError:
        return False
    return True


def _compile(bundle: Bundle, settings: Settings, report: dict[str, Any]) -> None:
    validated = _validated(bundle, settings)
    try:
        verdict, model = compile_bundle(bundle, settings, validated=validated)
    except Exception as exc:  # the bundle passed: it serves with scikit-learn whatever fails
        reason = f"compiling failed: {type(exc).__name__}: {exc}"[:REASON_CHARS]
        verdict, model = RuntimeVerdict(reason=reason, validated=validated), None
    report["runtime"] = verdict.to_json()
    report["onnx"] = base64.b64encode(model).decode() if model is not None else None


def _limit_cpu(seconds: int) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (spent + seconds, hard))


def main() -> None:
    """Child: verify each folder named on stdin, one JSON line per folder on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    settings = Settings(**request["settings"])
    limit = settings.verify_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for name in request["folders"]:
        _limit_cpu(settings.verify_cpu_seconds)
        report = _verify_one(Path(name), settings)
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
