"""Verifying bundles in a child process before this one loads them.

A crafted model file can crash the process that predicts with it (a tree whose child indices
point outside its nodes) or hang it (a tree whose root is its own child). So each new bundle is
first loaded, structurally validated and test-predicted (examples.py: synthetic rows drawn
from the manifest, then the bundle's own examples) by a child process
(verify_child.py) under an address-space and CPU limit and a wall-clock deadline: a crash, a
hang or a memory bomb costs the child. Only then does the service load it, once.

A pass is remembered in the store (`.verified/<key>`, a folder no upload or import can write),
keyed by the manifest's sha256 (which pins the model file's sha256) and the settings that decide
what may load (the types, the tolerances), so restarts and the other replicas do not verify
again. It records the runtime verdict the child measured (runtimes/convert.py) and, when the
model serves compiled, the ONNX file beside it (runtimes/verdicts.py): the service trusts no
difference a bundle claims, only what its own child measured.
"""

import base64
import binascii
import hashlib
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_service.config import Settings
from model_service.models.bundles import BundleError, check_files, manifest_bytes
from model_service.runtimes import RuntimeVerdict, verdicts

logger = logging.getLogger("servir.models")

VERDICTS = ".verified"
# One verifying child at a time per replica: concurrent uploads wait their turn rather than
# each claim MODEL_VERIFY_MEMORY_BYTES.
ONE_CHILD = threading.Lock()
# Bump when the checks change, so bundles passed by older checks are verified again.
# 2: synthetic rows and the bundle's own examples; 3: the compiled runtime's verdict.
# 4: models fitted on DataFrames or with category features compile too.
CHECKS_VERSION = "4"
# One thread each for BLAS and OpenMP: less address space, and the child shares the cores.
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CHILD_FIELDS = (
    "models_dir",
    "allowed_types",
    "allow_pickle",
    "unvalidated_types",
    "max_bundle_bytes",
    "max_model_members",
    "max_model_unpacked_bytes",
    "max_model_ratio",
    "verify_cpu_seconds",
    "verify_start_seconds",
    "verify_memory_bytes",
    "example_tolerance",
    "runtime_tolerance",
    "runtime_parity_rows",
    "max_onnx_bytes",
)


def verdict_key(manifest_sha256: str, settings: Settings) -> str:
    """The name of a pass: the manifest's digest and the settings that decide what may load."""
    policy = {
        "checks": CHECKS_VERSION,
        "manifest": manifest_sha256,
        "allowed": sorted(settings.allowed_types),
        "unvalidated": sorted(settings.unvalidated_types),
        "tolerance": settings.example_tolerance,
        "runtime_tolerance": settings.runtime_tolerance,
        "runtime_parity_rows": settings.runtime_parity_rows,
        "max_onnx_bytes": settings.max_onnx_bytes,
    }
    return hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()


def _verdict_file(manifest_raw: bytes, settings: Settings) -> Path:
    key = verdict_key(hashlib.sha256(manifest_raw).hexdigest(), settings)
    return settings.models_dir / VERDICTS / key


@dataclass(frozen=True)
class Verified:
    """A bundle a child has verified: its manifest as verified, and the runtime verdict with
    the compiled model when it may serve (the model file itself is not loaded yet)."""

    folder: Path
    manifest_raw: bytes
    verdict: RuntimeVerdict
    compiled: bytes | None


def load_verified(folder: Path, settings: Settings) -> Verified:
    """A bundle's verdict once a child has verified it (now, or before: the recorded pass).
    A compiled file that no longer matches its verdict is verified again, never served."""
    raw = manifest_bytes(folder)
    target = _verdict_file(raw, settings)
    found = verdicts.read(target) if verdicts.recorded(target) else None
    if found is None:
        reason = verify_bundles([folder], settings, again=True).get(folder)
        if reason is not None:
            raise BundleError(reason)
        found = verdicts.read(target)
        if found is None:
            raise BundleError("the verification pass could not be read back")
    return Verified(folder=folder, manifest_raw=raw, verdict=found[0], compiled=found[1])


def verify_bundles(
    folders: list[Path], settings: Settings, *, again: bool = False
) -> dict[Path, str | None]:
    """Verify the bundles without a recorded pass (`again`: every one); their reasons (None:
    passed)."""
    results: dict[Path, str | None] = {}
    pending: dict[Path, str] = {}  # folder -> sha256 of the manifest this process read
    for folder in folders:
        try:
            raw = manifest_bytes(folder)
            if not again and verdicts.recorded(_verdict_file(raw, settings)):
                results[folder] = None
                continue
            check_files(folder, settings, raw)  # what fails here needs no child
        except BundleError as exc:
            results[folder] = str(exc)
            continue
        pending[folder] = hashlib.sha256(raw).hexdigest()
    while pending:  # one child for the lot; after a crash, a new one for the rest
        with ONE_CHILD:
            results.update(_run_child(pending, settings))
        pending = {f: digest for f, digest in pending.items() if f not in results}
    return results


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    buffer: bytes = b""

    def line(self, deadline: float) -> bytes | None:
        """The child's next output line; None once it exits or the deadline passes."""
        assert self.process.stdout is not None
        # Chunks are joined once the line ends: a line carrying a compiled model runs to
        # megabytes, and growing one bytes object chunk by chunk would copy it each time.
        chunks, ended = [self.buffer], b"\n" in self.buffer
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not ended:
                if not selector.select(max(deadline - time.monotonic(), 0)):
                    return None
                chunk = os.read(self.process.stdout.fileno(), 1024 * 1024)
                if not chunk:
                    return None
                chunks.append(chunk)
                ended = b"\n" in chunk
        line, self.buffer = b"".join(chunks).split(b"\n", 1)
        return line


def _run_child(folders: dict[Path, str], settings: Settings) -> dict[Path, str | None]:
    """Verify `folders` in order in one child; stop at the first one that kills or hangs it."""
    fields = settings.model_dump(mode="json", include=set(CHILD_FIELDS))
    request = json.dumps({"settings": fields, "folders": [str(f) for f in folders]}).encode()
    process = subprocess.Popen(
        [sys.executable, "-m", "model_service.models.verify_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, **CHILD_ENV},  # stderr: the service's own, for a traceback
    )
    assert process.stdin is not None
    with suppress(BrokenPipeError):  # a child that died at start is reported below
        process.stdin.write(request)
        process.stdin.close()
    child, results = _Child(process), dict[Path, str | None]()
    try:
        # The child says it is ready once its imports are done: each bundle's deadline is its
        # own, not shared with the interpreter's start.
        if child.line(time.monotonic() + settings.verify_start_seconds) is None:
            reason = _failure(process, settings, "start")
            return dict.fromkeys(folders, reason)
        for folder, manifest_sha256 in folders.items():
            line = child.line(time.monotonic() + settings.verify_timeout_seconds)
            if line is None:
                results[folder] = _failure(process, settings)
                break
            results[folder] = _accept(json.loads(line), manifest_sha256, settings)
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    return results


def _accept(report: dict[str, Any], manifest_sha256: str, settings: Settings) -> str | None:
    reason: str | None = report["reason"]
    if report["manifest_sha256"] != manifest_sha256:
        return "the bundle changed while it was verified"
    if reason is None:
        verdict, model = _runtime_verdict(report)
        target = settings.models_dir / VERDICTS / verdict_key(manifest_sha256, settings)
        verdicts.record(target, verdict, model)
    return reason


def _runtime_verdict(report: dict[str, Any]) -> tuple[RuntimeVerdict, bytes | None]:
    """The child's verdict, with the compiled model it names (the digest taken here)."""
    verdict = RuntimeVerdict.from_json(report.get("runtime") or {"reason": "not compiled"})
    try:
        model = base64.b64decode(report.get("onnx") or "", validate=True)
    except binascii.Error:
        model = b""
    if verdict.name != "onnxruntime":
        return verdict, None
    if hashlib.sha256(model).hexdigest() != verdict.onnx_sha256:
        verdict.name, verdict.reason = "sklearn", "the compiled model came back damaged"
        return verdict, None
    return verdict, model


def _failure(process: subprocess.Popen[bytes], settings: Settings, stage: str = "") -> str:
    try:
        code = process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        if stage == "start":
            return f"the verifier did not start within {settings.verify_start_seconds:g} s"
        return f"verification took longer than {settings.verify_timeout_seconds:g} s"
    if code < 0:
        kind = signal.Signals(-code).name
        if -code == signal.SIGXCPU:
            return f"verification used more than {settings.verify_cpu_seconds} s of CPU ({kind})"
        return f"verification crashed ({kind})"
    return f"verification failed (exit status {code})"
