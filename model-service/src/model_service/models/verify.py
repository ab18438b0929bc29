"""Verifying bundles in a child process before this one loads them.

A crafted model file can crash the process that predicts with it (a tree whose child indices
point outside its nodes) or hang it (a tree whose root is its own child). So each new bundle is
first loaded, structurally validated and test-predicted (examples.py: synthetic rows drawn
from the manifest, then the bundle's own examples) by a child process
(verify_child.py) under an address-space and CPU limit and a wall-clock deadline: a crash, a
hang or a memory bomb costs the child. Only then does the service load it, once.

A pass is remembered in the store (`.verified/<key>`, a folder no upload or import can write),
keyed by the manifest's sha256 (which pins the model file's sha256) and the settings that decide
what may load (the types, the examples' tolerance), so restarts and the other replicas do not
verify again.
"""

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
from model_service.models.bundles import (
    Bundle,
    BundleError,
    check_files,
    load_bundle,
    manifest_bytes,
)

logger = logging.getLogger("servir.models")

VERDICTS = ".verified"
# One verifying child at a time per replica: concurrent uploads wait their turn rather than
# each claim MODEL_VERIFY_MEMORY_BYTES.
ONE_CHILD = threading.Lock()
# Bump when the checks change, so bundles passed by older checks are verified again.
CHECKS_VERSION = "2"  # 2: synthetic rows and the bundle's own examples
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
)


def verdict_key(manifest_sha256: str, settings: Settings) -> str:
    """The name of a pass: the manifest's digest and the settings that decide what may load."""
    policy = {
        "checks": CHECKS_VERSION,
        "manifest": manifest_sha256,
        "allowed": sorted(settings.allowed_types),
        "unvalidated": sorted(settings.unvalidated_types),
        "tolerance": settings.example_tolerance,
    }
    return hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()


def _verdict_file(manifest_raw: bytes, settings: Settings) -> Path:
    key = verdict_key(hashlib.sha256(manifest_raw).hexdigest(), settings)
    return settings.models_dir / VERDICTS / key


def _record_pass(manifest_sha256: str, settings: Settings) -> None:
    folder = settings.models_dir / VERDICTS
    target = folder / verdict_key(manifest_sha256, settings)
    work = folder / f".{target.name}.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        work.write_text("passed\n")
        work.replace(target)  # atomic: a reader sees no verdict or a whole one
    except OSError as exc:  # a read-only store: the bundle is verified again next time
        logger.warning("verification pass not recorded", extra={"reason": str(exc)})


def load_verified(folder: Path, settings: Settings) -> Bundle:
    """Load a bundle here once a child has verified it (now, or before: the recorded pass)."""
    raw = manifest_bytes(folder)
    if not _verdict_file(raw, settings).is_file():
        reason = verify_bundles([folder], settings).get(folder)
        if reason is not None:
            raise BundleError(reason)
    # The manifest as verified: its sha256 pins the model file load_bundle checks again.
    return load_bundle(folder, settings, manifest_raw=raw)


def verify_bundles(folders: list[Path], settings: Settings) -> dict[Path, str | None]:
    """Verify the bundles without a recorded pass; their reasons (None: passed)."""
    results: dict[Path, str | None] = {}
    pending: dict[Path, str] = {}  # folder -> sha256 of the manifest this process read
    for folder in folders:
        try:
            raw = manifest_bytes(folder)
            if _verdict_file(raw, settings).is_file():
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
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                if not selector.select(max(deadline - time.monotonic(), 0)):
                    return None
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
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
        _record_pass(report["manifest_sha256"], settings)
    return reason


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
