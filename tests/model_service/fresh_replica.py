"""A store loaded by a registry in a fresh Python process: what it says of each version, and
which heavy libraries loading it imported."""

import subprocess
import sys
from pathlib import Path

HEAVY = ("sklearn", "skops", "scipy", "pandas")


def load_in_a_fresh_process(store: Path) -> tuple[str, str]:
    """The readiness of every version (as a printed sorted list) and the HEAVY modules imported
    (as a printed sorted list), from a new interpreter that loaded `store`."""
    script = (
        "import sys\n"
        "from model_service.config import Settings\n"
        "from model_service.metrics import ModelMetrics\n"
        "from model_service.models.registry import Registry\n"
        "from model_service.models.workers import InferencePool\n"
        f"settings = Settings(models_dir={str(store)!r})\n"
        "registry = Registry(settings, InferencePool(1), ModelMetrics())\n"
        "registry.load_all()\n"
        "print(sorted(registry.readiness().items()))\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    ready, imported = done.stdout.strip().splitlines()
    return ready, imported
