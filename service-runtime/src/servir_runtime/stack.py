"""Start the Servir stack as local processes: a redis-server of its own and the three services.

Used by `make run`, the integration tests and `make bench`, so all three run the stack one way.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Self

from servir_runtime.lifeline import die_with_parent
from servir_runtime.processes import (
    HOST,
    Process,
    check_alive,
    free_port,
    redis_command,
    redis_pong,
    signal_group,
    terminate,
    wait_ready,
)

# The repository this (editable, development-only) launcher runs from.
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Stack:
    """Redis plus gateway, auth-service and model-service on loopback ports."""

    data_dir: Path
    gateway_port: int = 0
    auth_port: int = 0
    model_port: int = 0
    redis_port: int = 0
    metrics_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    pin_cpu: int | None = None
    # More model-service processes on the same store (`--scale model-service=N`), each on its
    # own port; the gateway balances over all of them.
    model_replicas: int = 1
    extra_model_ports: list[int] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    # Told each step of a start as it happens (`make run` prints them); silent by default.
    progress: Callable[[str], None] = lambda _: None

    def __post_init__(self) -> None:
        self.gateway_port = self.gateway_port or free_port()
        self.auth_port = self.auth_port or free_port()
        self.model_port = self.model_port or free_port()
        self.redis_port = self.redis_port or free_port()
        self.metrics_port = self.metrics_port or free_port()
        self.log_dir = self.data_dir / "logs"
        self.extra_model_ports = [free_port() for _ in range(self.model_replicas - 1)]

    @property
    def gateway_url(self) -> str:
        """The public entry point."""
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def model_urls(self) -> list[str]:
        """Every model-service replica."""
        return [self.model_url, *(f"http://{HOST}:{port}" for port in self.extra_model_ports)]

    @property
    def model_url(self) -> str:
        """The model-service, for measurements that bypass the gateway."""
        return f"http://{HOST}:{self.model_port}"

    @property
    def auth_url(self) -> str:
        """The auth-service."""
        return f"http://{HOST}:{self.auth_port}"

    @property
    def redis_url(self) -> str:
        """The stack's own Redis."""
        return f"redis://{HOST}:{self.redis_port}/0"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, *, timeout: float = 60.0) -> None:
        """Start Redis, then the services; return once every one is ready."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_redis(timeout)
            env = self._service_env()
            self._spawn("auth-service", [sys.executable, "-m", "auth_service"], env, self.auth_url)
            self._spawn(
                "model-service", [sys.executable, "-m", "model_service"], env, self.model_url
            )
            for index, port in enumerate(self.extra_model_ports, start=2):
                self._spawn(
                    f"model-service-{index}",
                    [sys.executable, "-m", "model_service"],
                    {**env, "MODEL_PORT": str(port)},
                    f"http://{HOST}:{port}",
                )
            self._spawn("gateway", [sys.executable, "-m", "gateway"], env, self.gateway_url)
            wait_ready(self.processes[1:], timeout, self.progress)
        except BaseException:
            self.stop()
            raise

    def process(self, name: str) -> Process:
        """The running process called `name`."""
        return next(p for p in self.processes if p.name == name)

    def failed(self) -> Process | None:
        """The first process that has exited, if any."""
        return next((p for p in self.processes if p.popen.poll() is not None), None)

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM every process, gateway first, Redis last; SIGKILL what outlives `grace`.

        Whatever cuts the orderly stop short (a signal, a process that will not die), every
        process the stack started, and anything they started, is killed before this returns.
        """
        try:
            for process in reversed(self.processes):
                terminate(process, grace)
        finally:
            for process in self.processes:
                signal_group(process, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    process.popen.wait(timeout=5)
                process.log_file.close()
            self.processes.clear()

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash, for fault tests) and wait for it to go."""
        process = self.process(name)
        process.popen.kill()
        process.popen.wait(timeout=10)

    def restart_redis(self, *, timeout: float = 30.0) -> None:
        """Start Redis again on the same port and data (its AOF), after a kill."""
        old = self.process("redis")
        old.log_file.close()
        self.processes.remove(old)
        self._start_redis(timeout)
        self.processes.insert(0, self.processes.pop())  # stopped last, as before

    def restart_service(
        self, name: str, *, env: dict[str, str] | None = None, timeout: float = 60.0
    ) -> None:
        """Stop one service (SIGTERM) and start it again, with `env` on top of its settings."""
        old = self.process(name)
        old.popen.terminate()
        old.popen.wait(timeout=15)
        old.log_file.close()
        index = self.processes.index(old)
        self.processes.remove(old)
        module = name.split("-service", maxsplit=1)[0] + "_service" if "-service" in name else name
        replica = name.startswith("model-service") and old.ready_url is not None
        port_env = {"MODEL_PORT": str(old.ready_url).rsplit(":", 1)[1]} if replica else {}
        process = self._spawn(
            name,
            [sys.executable, "-m", module],
            {**self._service_env(), **port_env, **(env or {})},
            old.ready_url,
        )
        self.processes.insert(index, self.processes.pop())
        wait_ready([process], timeout, self.progress)

    def _start_redis(self, timeout: float) -> None:
        command = redis_command(port=self.redis_port, data_dir=self.data_dir / "redis")
        process = self._spawn("redis", command, dict(os.environ), None)
        deadline = time.monotonic() + timeout
        while not redis_pong(self.redis_port):
            check_alive(process, deadline)
            time.sleep(0.05)
        self.progress(f"Redis up on port {self.redis_port} ({process.took()})")

    def _service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "AUTH_PORT": str(self.auth_port),
                "AUTH_REDIS_URL": self.redis_url,
                "AUTH_KEYS_DIR": str(self.data_dir / "keys"),
                "MODEL_PORT": str(self.model_port),
                "MODEL_REDIS_URL": self.redis_url,
                "GATEWAY_PORT": str(self.gateway_port),
                "GATEWAY_METRICS_PORT": str(self.metrics_port),
                "GATEWAY_REDIS_URL": self.redis_url,
                "GATEWAY_AUTH_SERVICE_URL": self.auth_url,
                "GATEWAY_MODEL_SERVICE_URL": ",".join(self.model_urls),
            }
        )
        env.update(self.env)
        return env

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], ready_url: str | None
    ) -> Process:
        if self.pin_cpu is not None:
            command = ["taskset", "-c", str(self.pin_cpu), *command]
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        # Every child is stopped with the stack, even when the stack's process dies unable to
        # stop them (SIGKILL); the kernel ties this to the spawning thread, so the main one.
        main = threading.current_thread() is threading.main_thread()
        popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # The hook takes no lock (a prctl through a libc handle loaded before the fork).
            preexec_fn=partial(die_with_parent, signal.SIGTERM, os.getpid()) if main else None,  # noqa: PLW1509
        )
        process = Process(name, popen, log_path, ready_url, log_file)
        self.processes.append(process)
        if ready_url is not None:
            self.progress(f"{name} starting")
        return process
