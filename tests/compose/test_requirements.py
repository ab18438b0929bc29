"""Each image's requirements file is exactly what uv.lock pins (run `make requirements`)."""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
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


SOURCES = {
    "gateway": ["gateway/src", "shared-schemas/src", "service-runtime/src"],
    "auth-service": ["auth-service/src", "shared-schemas/src", "service-runtime/src"],
    "model-service": ["model-service/src", "shared-schemas/src", "service-runtime/src"],
}
FIRST_PARTY = {"gateway", "auth_service", "model_service", "shared_schemas", "servir_runtime"}


def _imported(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def _pinned(service: str) -> set[str]:
    lines = (ROOT / "requirements" / f"{service}.txt").read_text().splitlines()
    return {canonicalize(line.split("==")[0]) for line in lines if "==" in line}


@pytest.mark.parametrize("service", list(SOURCES))
def test_every_import_of_an_image_is_in_its_requirements(service: str) -> None:
    """A module the service imports only through another service's dependencies works in the
    shared dev venv and fails in the image (as prometheus_client once did in the gateway's)."""
    modules = set().union(*(_imported(ROOT / folder) for folder in SOURCES[service]))
    third_party = modules - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}
    owners = importlib.metadata.packages_distributions()
    missing = {
        module: owners.get(module)
        for module in third_party
        if not {canonicalize(d) for d in owners.get(module, [module])} & _pinned(service)
    }
    assert not missing, f"imported but not in requirements/{service}.txt: {missing}"


def canonicalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()
