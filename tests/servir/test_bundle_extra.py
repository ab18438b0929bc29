"""Without the bundle extra, importing servir.bundle says how to install it."""

import subprocess
import sys


def test_a_missing_extra_names_the_install_command() -> None:
    # A module set to None in sys.modules cannot be imported: a client-only install, simulated
    # in a fresh interpreter.
    code = "import sys; sys.modules['skops'] = None; import servir.bundle"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert 'needs the bundle extra (skops.io is missing): pip install "servir[bundle]"' in (
        done.stderr
    )
