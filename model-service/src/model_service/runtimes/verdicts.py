"""Recorded verification passes: `.verified/<key>` holds the runtime verdict as JSON (what the
child measured), `.verified/<key>.onnx` the compiled model it checked, when it may serve.

Both are written atomically, the compiled file first, so a reader that finds a verdict finds
its file. A store that cannot be written (read-only) keeps the pass in memory for the load that
follows; the next start verifies again.
"""

import hashlib
import json
import logging
import os
from pathlib import Path

from model_service.runtimes import RuntimeVerdict

logger = logging.getLogger("servir.models")
COMPILED = ".onnx"
# Passes a read-only store could not record, by verdict file, until loaded.
_UNRECORDED: dict[Path, tuple[RuntimeVerdict, bytes | None]] = {}


def compiled_file(target: Path) -> Path:
    """Where the compiled model of the verdict `target` lies."""
    return target.with_name(target.name + COMPILED)


def _write(target: Path, data: bytes) -> None:
    work = target.with_name(f".{target.name}.{os.getpid()}")
    work.write_bytes(data)
    work.replace(target)  # atomic: a reader sees no file or a whole one


def record(target: Path, verdict: RuntimeVerdict, model: bytes | None) -> None:
    """Record a pass and its verdict; in memory when the store cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if model is not None:
            _write(compiled_file(target), model)
        _write(target, json.dumps({"runtime": verdict.to_json()}).encode())
    except OSError as exc:  # a read-only store: kept for this load, verified again next time
        logger.warning("verification pass not recorded", extra={"reason": str(exc)})
        _UNRECORDED[target] = (verdict, model)


def recorded(target: Path) -> bool:
    """Whether a pass is recorded (or kept in memory) under `target`."""
    return target in _UNRECORDED or target.is_file()


def read(target: Path) -> tuple[RuntimeVerdict, bytes | None] | None:
    """The recorded verdict and its compiled model; None when there is no usable pass (none,
    unreadable, or a compiled file missing or not the one the verdict names)."""
    kept = _UNRECORDED.pop(target, None)
    if kept is not None:
        return kept
    try:
        verdict = RuntimeVerdict.from_json(json.loads(target.read_bytes())["runtime"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if verdict.name != "onnxruntime":
        return verdict, None
    try:
        model = compiled_file(target).read_bytes()
    except OSError:
        model = b""
    if hashlib.sha256(model).hexdigest() != verdict.onnx_sha256:
        logger.warning(
            "compiled model does not match its verdict: verifying again",
            extra={"verdict": target.name},
        )
        return None
    return verdict, model
