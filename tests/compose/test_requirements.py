"""Each image's requirements file is exactly what uv.lock pins (run `make requirements`)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.compose.checks import ROOT

# `uv run` names its own binary in $UV.
UV = os.environ.get("UV") or shutil.which("uv") or "uv"


@pytest.mark.parametrize("service", ["gateway", "auth-service", "model-service"])
def test_image_requirements_match_the_lock(service: str, tmp_path: Path) -> None:
    exported = tmp_path / "requirements.txt"
    command = [
        UV, "export", "--frozen", "--package", service, "--no-dev",
        "--no-emit-workspace", "--no-header", "-q", "-o", str(exported),
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, timeout=60)
    committed = (ROOT / "requirements" / f"{service}.txt").read_text()
    assert exported.read_text() == committed, "stale: run `make requirements`"
