"""Settings errors at start-up never echo the values they were given (secrets among them)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "hunter2-short-secret"  # under 32 characters: refused in production


def start(module: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m <module>` in production with `env`; it must refuse to start."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SERVIR_", "AUTH_"))}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**clean, "SERVIR_ENV": "production", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("module", ["gateway", "auth_service", "model_service"])
def test_a_refused_internal_token_is_not_printed(module: str, tmp_path: Path) -> None:
    started = start(module, tmp_path, SERVIR_INTERNAL_TOKEN=SECRET)
    assert started.returncode != 0
    assert "SERVIR_INTERNAL_TOKEN must be set" in started.stderr
    assert SECRET not in started.stdout + started.stderr
    assert "hunter2" not in started.stdout + started.stderr


def test_a_refused_admin_password_is_not_printed(tmp_path: Path) -> None:
    started = start(
        "auth_service",
        tmp_path,
        SERVIR_INTERNAL_TOKEN="x" * 40,
        AUTH_ADMIN_PASSWORD="hunter2",
        AUTH_SIGNING_KEY=SECRET,
    )
    assert started.returncode != 0
    assert "AUTH_ADMIN_PASSWORD must be set" in started.stderr
    assert "hunter2" not in started.stdout + started.stderr
