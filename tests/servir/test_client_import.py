"""`import servir` is light: the client needs neither scikit-learn nor pandas nor numpy, and
`save_model` comes from servir.bundle only when asked for."""

import subprocess
import sys

import pytest

import servir

PROBE = """
import sys
import servir
heavy = [m for m in ("sklearn", "skops", "pandas", "numpy", "fastapi", "redis") if m in sys.modules]
print(" ".join(heavy))
"""


def test_importing_servir_loads_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def test_the_package_exports_the_client_and_its_errors() -> None:
    for name in ("Client", "AsyncClient", "ServirError", "ApiError", "NotFound", "RateLimited"):
        assert name in servir.__all__
        assert getattr(servir, name) is not None
    assert issubclass(servir.ConnectionFailed, servir.ServirError)
    assert issubclass(servir.Unauthorized, servir.ApiError)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = servir.nothing
