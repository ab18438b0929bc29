"""`python -m model_service.models.verify_child`: verify bundles for the service (verify.py).

Reads the settings and the folders as JSON on stdin; limits its own address space and CPU;
says `ready` once its imports are done, then one JSON line per folder: the sha256 of the
manifest it read and the reason the bundle must not serve (null: it may).
"""

import hashlib
import json
import resource
import sys
from pathlib import Path
from typing import Any

from model_service.config import Settings
from model_service.models.bundles import BundleError, load_bundle, manifest_bytes
from model_service.models.canary import predict_canary


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
        predict_canary(bundle)
    except MemoryError:
        report["reason"] = "the canary prediction ran out of memory"
    except Exception as exc:  # whatever the estimator raises, the bundle does not serve
        report["reason"] = f"the canary prediction failed: {type(exc).__name__}: {exc}"[:300]
    return report


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
