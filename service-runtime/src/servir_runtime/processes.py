"""The stack's child processes: spawning, signalling and waiting on them, free loopback ports,
and the redis-server command line (also used by tests that start a Redis of their own)."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"


class StackError(RuntimeError):
    """The stack could not start; the message carries the failing service's log."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_taken(port: int) -> bool:
    """Whether something already listens on `port` of HOST (where the stack's services bind).
    Port 0 is never taken: it asks for any free one."""
    with socket.socket() as sock:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped stack is free again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
        return False


@dataclass
class Process:
    """One child process of the stack, its log and its readiness URL."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    ready_url: str | None
    log_file: IO[bytes]
    started: float = field(default_factory=time.monotonic)

    def took(self) -> str:
        """Seconds since it started, as a progress line says it."""
        return f"{time.monotonic() - self.started:.1f} s"

    def log_tail(self, lines: int = 60) -> str:
        """The end of this process's log."""
        self.log_file.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def terminate(process: Process, grace: float) -> None:
    """SIGTERM the process's group (it leads one: start_new_session); SIGKILL after `grace`."""
    signal_group(process, signal.SIGTERM)
    try:
        process.popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.popen.wait(timeout=5)


def signal_group(process: Process, signum: int) -> None:
    # The whole group: a service's own children (a verifying loader, say) go with it. The
    # group id stays reserved while any member lives, so it names no stranger.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.popen.pid, signum)


def check_alive(process: Process, deadline: float) -> None:
    """StackError with the process's log when it has exited, or when `deadline` has passed."""
    if process.popen.poll() is not None:
        msg = f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}"
        raise StackError(msg)
    if time.monotonic() > deadline:
        raise StackError(f"{process.name} was not ready in time:\n{process.log_tail()}")


def wait_ready(processes: list[Process], timeout: float, say: Callable[[str], None]) -> None:
    """Return once every process answers 200 on /readyz, saying each as it does (in the order
    they become ready, not the order they started)."""
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while pending:
        for process in list(pending):
            if answers_200(f"{process.ready_url}/readyz"):
                pending.remove(process)
                say(f"{process.name} healthy at {process.ready_url} ({process.took()})")
            else:
                check_alive(process, deadline)
        if pending:
            time.sleep(0.1)


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def redis_command(*, port: int, data_dir: Path) -> list[str]:
    """A redis-server on loopback, AOF on, data in `data_dir`."""
    server = shutil.which("redis-server")
    if server is None:
        msg = "redis-server not found: install it (Debian: apt-get install redis-server)"
        raise StackError(msg)
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        server, "--bind", HOST, "--port", str(port), "--dir", str(data_dir),
        "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        "--daemonize", "no", "--protected-mode", "yes",
    ]  # fmt: skip


def redis_pong(port: int) -> bool:
    """True once a Redis on `port` answers PING."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
