"""Load for fault tests: threads posting predictions through the gateway until stopped,
every answer recorded with when it was asked and when it came back."""

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from servir_runtime.stack import Stack

IRIS = {"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                       "petal_width": 0.2}]}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Answer:
    """One request: sent at `started`, answered (or failed) at `at`; status 0 if no answer."""

    started: float
    at: float
    status: int
    credential: str = ""

    @property
    def seconds(self) -> float:
        """How long the caller waited."""
        return self.at - self.started


class Load:
    """Threads posting `body` to `path` until stopped, each with one of `credentials`
    (headers), round robin; every answer's times and status."""

    def __init__(
        self,
        url: str,
        credentials: dict[str, dict[str, str]],
        *,
        threads: int = 4,
        path: str = "/models/iris/predict",
        body: dict[str, Any] | None = None,
    ) -> None:
        self.url, self.path, self.body = url, path, body or IRIS
        self.credentials = list(credentials.items())
        self.answers: list[Answer] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, index: int) -> None:
        name, headers = self.credentials[index % len(self.credentials)]
        with httpx.Client(base_url=self.url, timeout=10, trust_env=False) as client:
            while not self.stopped.is_set():
                started = time.monotonic()
                try:
                    status = client.post(self.path, json=self.body, headers=headers).status_code
                except httpx.TransportError:
                    status = 0
                self.answers.append(Answer(started, time.monotonic(), status, name))

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=30)


def served_predictions(stack: Stack, name: str, path: str = "/models/iris/predict") -> int:
    """Predictions the process `name` logged (every request is logged in tests)."""
    lines = (stack.log_dir / f"{name}.log").read_text().splitlines()
    return sum(1 for line in lines if line.startswith("{") and json.loads(line).get("path") == path)
