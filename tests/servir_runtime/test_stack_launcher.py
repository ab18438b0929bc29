"""The stack launcher behind `make run` and the integration tests."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from servir_runtime.processes import StackError
from servir_runtime.stack import ROOT, Stack


def test_failed_start_reports_the_service_log_and_stops_everything(tmp_path: Path) -> None:
    # Production refuses the development internal token: the first service exits at once.
    stack = Stack(data_dir=tmp_path, env={"SERVIR_ENV": "production"})
    with pytest.raises(StackError) as failure:
        stack.start(timeout=30)
    message = str(failure.value)
    assert "auth-service exited" in message
    assert "SERVIR_INTERNAL_TOKEN must be set" in message
    assert stack.processes == []


# `make run` itself: the launcher that stops must stop everything it started.
READY_LINE = "Servir gateway:"
START_SECONDS = 90.0
STOP_SECONDS = 60.0  # the stop's grace (10 s per process) with room to spare


@dataclass
class Launcher:
    """`python scripts/run.py` on free ports, its output in files, its children by name."""

    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    children: dict[str, int]


def _children(pid: int) -> dict[str, int]:
    """The launcher's child processes, by the name of what they run."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    names = {"redis-server": "redis", "auth_service": "auth", "model_service": "model"}
    children = {}
    for child in map(int, found):
        command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        name = next((n for key, n in names.items() if key in command), "gateway")
        children[name] = child
    return children


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie no one reaps yet is gone for our purpose: it runs nothing.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(path: Path, text: str, launcher: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while text not in path.read_text():
        assert launcher.poll() is None, path.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in time"
        time.sleep(0.1)


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    """A running `make run` stack; whatever the test leaves alive is killed, by pid."""
    env = {
        **os.environ,
        "SERVIR_DATA_DIR": str(tmp_path / "data"),
        **dict.fromkeys(("GATEWAY_PORT", "GATEWAY_METRICS_PORT", "AUTH_PORT", "MODEL_PORT"), "0"),
        "MODEL_MODELS_DIR": str(tmp_path / "models"),
    }
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        popen = subprocess.Popen(
            [sys.executable, "scripts/run.py"], cwd=ROOT, env=env, stdout=out, stderr=err
        )
    children: dict[str, int] = {}
    try:
        _wait_for(stdout, READY_LINE, popen)
        children = _children(popen.pid)
        assert set(children) == {"redis", "auth", "model", "gateway"}, children
        yield Launcher(popen, stdout, stderr, children)
    finally:
        for pid in [popen.pid, *children.values()]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        popen.wait(timeout=10)


def assert_all_stopped(launcher: Launcher) -> None:
    returncode = launcher.popen.wait(timeout=STOP_SECONDS)
    assert returncode != 0, launcher.stderr.read_text()
    still = {name: pid for name, pid in launcher.children.items() if _alive(pid)}
    assert still == {}, f"left running: {still}"


# What a person sees while the stack starts: one line per step, as it happens, then the summary.
SERVICES = ("auth-service", "model-service", "gateway")
PROGRESS = re.compile(
    r"Redis up on port \d+ \(\d+\.\d s\)"
    r"|(auth-service|model-service|gateway) starting"
    r"|(auth-service|model-service|gateway) healthy at http://127\.0\.0\.1:\d+ \(\d+\.\d s\)"
)


def test_the_start_shows_each_step_then_the_summary(launcher: Launcher) -> None:
    lines = launcher.stdout.read_text().splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("Logs: "))
    steps = lines[:summary]
    assert all(PROGRESS.fullmatch(line) for line in steps), steps
    assert steps[0].startswith("Redis up on port ")
    assert steps[1:4] == [f"{name} starting" for name in SERVICES]
    healthy = sorted(line.split(" healthy at ")[0] for line in steps[4:])
    assert healthy == sorted(SERVICES), steps
    assert lines[summary + 1].startswith(READY_LINE)


def test_a_service_that_dies_stops_the_whole_stack_redis_included(launcher: Launcher) -> None:
    os.kill(launcher.children["model"], signal.SIGKILL)  # as the crafted tree's segfault did
    assert_all_stopped(launcher)
    assert "model-service stopped unexpectedly" in launcher.stderr.read_text()


def test_a_signal_during_the_stop_does_not_leave_redis_running(launcher: Launcher) -> None:
    # A frozen gateway makes the stop wait out its grace; Ctrl-C meanwhile is what a person
    # does, and must not cut the clean-up short.
    os.kill(launcher.children["gateway"], signal.SIGSTOP)
    os.kill(launcher.children["model"], signal.SIGKILL)
    _wait_for(launcher.stderr, "stopped unexpectedly", launcher.popen)
    launcher.popen.send_signal(signal.SIGINT)
    launcher.popen.send_signal(signal.SIGTERM)
    assert_all_stopped(launcher)


def test_a_closed_terminal_stops_the_whole_stack(launcher: Launcher) -> None:
    launcher.popen.send_signal(signal.SIGHUP)
    launcher.popen.wait(timeout=STOP_SECONDS)
    still = {name: pid for name, pid in launcher.children.items() if _alive(pid)}
    assert still == {}, f"left running: {still}"


def test_a_port_in_use_is_named_in_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            **os.environ,
            "SERVIR_DATA_DIR": str(tmp_path / "data"),
            **dict.fromkeys(("GATEWAY_PORT", "AUTH_PORT", "MODEL_PORT"), "0"),
            "GATEWAY_METRICS_PORT": str(port),
        }
        command = [sys.executable, "scripts/run.py"]
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False
        )
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        f"Port {port} (GATEWAY_METRICS_PORT) is already in use: stop what listens there, "
        "or set GATEWAY_METRICS_PORT to a free port."
    ]
    assert not (tmp_path / "data").exists()  # no Redis, no service, not even their logs
