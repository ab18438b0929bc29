"""Fault injection for the inference-deadline tests: an estimator whose predict hangs.

A crafted tree whose root points to itself loops for ever; the bundle checks refuse that tree,
so the tests stand in for it with this class. It hangs only on rows holding TRIGGER (so a
canary predict at load time passes) and waits on RELEASE, bounded, so no test process keeps a
stuck thread for long.
"""

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import joblib
import numpy as np

TRIGGER = 66.0
RELEASE = threading.Event()
HANG_SECONDS = 300.0


class HangsOnTrigger:
    """Answers like `inner` (or 0.0 per row), except that a row holding TRIGGER hangs."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.calls = 0

    def predict(self, rows: Any) -> Any:
        """Hang on TRIGGER; answer otherwise."""
        self.calls += 1
        if (np.asarray(rows, dtype=np.float64) == TRIGGER).any():
            RELEASE.wait(HANG_SECONDS)
        return self.inner.predict(rows) if self.inner is not None else np.zeros(len(rows))


def hanging_bundle(store: Path, name: str = "hang") -> Path:
    """A joblib bundle of HangsOnTrigger with one float feature `x` (needs MODEL_ALLOW_PICKLE)."""
    folder = store / name / "1"
    folder.mkdir(parents=True)
    joblib.dump(HangsOnTrigger(), folder / "model.joblib")
    manifest = {
        "name": name,
        "version": "1",
        "task": "regression",
        "features": [{"name": "x", "type": "float"}],
        "model_file": "model.joblib",
        "sha256": hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest(),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder
