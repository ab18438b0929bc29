"""The stack of `make run` never outlives what started it: make signalled alone, or the
launcher killed outright, still stops Redis and every service."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from servir_runtime.stack import ROOT
from tests.servir_runtime.test_stack_launcher import READY_LINE, _alive, _children, _wait_for

GONE_SECONDS = 30.0  # the services' graceful stop, with room on a busy machine
# `make run` as a person runs it, minus the prerequisites already met here (installed venv,
# redis-server, demo models) that would otherwise change the checkout.
MAKE_RUN = ["make", "-o", ".venv/.servir-installed", "-o", "redis-server", "-o", "models", "run"]


def _wait_gone(pids: dict[str, int]) -> dict[str, int]:
    """The processes of `pids` still running after GONE_SECONDS at most."""
    deadline = time.monotonic() + GONE_SECONDS
    while (still := {n: p for n, p in pids.items() if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return still


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, dict[str, int]]]:
    """`make run` on free ports: make, the launcher it runs, the launcher's children."""
    env = {key: value for key, value in os.environ.items() if key not in {"MAKEFLAGS", "MAKELEVEL"}}
    env |= {
        "SERVIR_DATA_DIR": str(tmp_path / "data"),
        **dict.fromkeys(("GATEWAY_PORT", "GATEWAY_METRICS_PORT", "AUTH_PORT", "MODEL_PORT"), "0"),
        "MODEL_MODELS_DIR": str(tmp_path / "models"),
    }
    stdout = tmp_path / "stdout"
    with stdout.open("wb") as out:
        make = subprocess.Popen(
            MAKE_RUN, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # nothing but this test signals it
        )  # fmt: skip
    pids: list[int] = []
    try:
        _wait_for(stdout, READY_LINE, make)
        (launcher,) = _children(make.pid).values()  # make runs the launcher itself (exec)
        children = _children(launcher)
        pids = [launcher, *children.values()]
        assert set(children) == {"redis", "auth", "model", "gateway"}, children
        yield make, launcher, children
    finally:
        for pid in [make.pid, *pids]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        make.wait(timeout=10)


def test_sigint_to_make_alone_stops_the_whole_stack(
    make_run: tuple[subprocess.Popen[bytes], int, dict[str, int]],
) -> None:
    make, launcher, children = make_run
    make.send_signal(signal.SIGINT)  # make passes it on to no one
    assert _wait_gone({"launcher": launcher, **children}) == {}
    assert make.wait(timeout=GONE_SECONDS) != 0  # make then ends, interrupted


def test_a_launcher_killed_outright_takes_its_children_with_it(
    make_run: tuple[subprocess.Popen[bytes], int, dict[str, int]],
) -> None:
    _, launcher, children = make_run
    os.kill(launcher, signal.SIGKILL)  # no chance to stop anything itself
    assert _wait_gone(children) == {}
