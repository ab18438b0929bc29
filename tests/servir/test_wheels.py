"""The servir wheel and the contracts' wheel install on their own into a fresh venv: a
client-only install has no web framework, no Redis and no scikit-learn, and its CLI runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
ABSENT = ("fastapi", "uvicorn", "redis", "sklearn", "skops", "pandas")
COMMANDS = ("login", "logout", "bundle", "push", "predict", "models", "keys", "users")
STEP_SECONDS = 300


def uv(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    found = shutil.which("uv")
    assert found, "uv is needed to build the wheels (make uv installs it)"
    # The workspace's own venv must not leak into the fresh one.
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    done = subprocess.run(
        [found, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_SECONDS,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (this Python) with only the two wheels and what they depend on."""
    root = tmp_path_factory.mktemp("wheels")
    dist = root / "dist"
    for package in ("servir", "shared-schemas"):
        uv("build", "--package", package, "--wheel", "--out-dir", str(dist))
    wheels = sorted(str(path) for path in dist.glob("*.whl"))
    assert len(wheels) == 2, wheels
    uv("venv", "--python", sys.executable, str(root / "venv"))
    python = root / "venv" / "bin" / "python"
    uv("pip", "install", "--python", str(python), *wheels, cwd=root)
    return root / "venv"


def test_a_client_install_has_no_server_and_no_scikit_learn(venv: Path) -> None:
    probe = (
        "import importlib.util, sys\n"
        f"print(' '.join(m for m in {ABSENT!r} if importlib.util.find_spec(m)))\n"
        "import servir\n"
        "assert servir.Client and servir.AsyncClient and servir.ApiError\n"
        "assert 'httpx' in sys.modules and 'sklearn' not in sys.modules\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"installed though they must not be: {done.stdout}"


def test_the_cli_runs_and_lists_its_commands(venv: Path) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "servir"), "--help"], capture_output=True, text=True, timeout=60,
        check=False, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert f" {command} " in done.stdout, command


def test_bundling_without_the_extra_says_how_to_get_it(venv: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.skops"
    model.write_bytes(b"not read: skops is not installed")
    sample = tmp_path / "sample.csv"
    sample.write_text("x\n1\n")
    done = subprocess.run(
        [str(venv / "bin" / "servir"), "bundle", str(model), "--sample", str(sample),
         "--name", "m"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "install servir[bundle]" in done.stderr
    assert "Traceback" not in done.stderr
