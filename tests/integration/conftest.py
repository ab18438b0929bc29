"""The real stack for integration tests: a redis-server and the three services as processes,
or, with SERVIR_STACK_URL set, a stack that already runs (e.g. docker compose)."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servir_stack import Stack


@dataclass(frozen=True)
class RunningStack:
    """What a test may use: the gateway's URL, and the services' logs when the tests own them."""

    gateway_url: str
    log_dir: Path | None

    def log(self, service: str) -> str | None:
        """The service's log so far, or None for a stack these tests did not start."""
        if self.log_dir is None:
            return None
        return (self.log_dir / f"{service}.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack under test, ready."""
    url = os.environ.get("SERVIR_STACK_URL")
    if url:
        yield RunningStack(gateway_url=url.rstrip("/"), log_dir=None)
        return
    data_dir = tmp_path_factory.mktemp("stack")
    # Every request logged, so tests can follow a request id into each service.
    sample_all = {f"{p}_ACCESS_LOG_SAMPLE": "1" for p in ("GATEWAY", "AUTH", "MODEL")}
    with Stack(data_dir=data_dir, env={"SERVIR_ENV": "test", **sample_all}) as running:
        yield RunningStack(gateway_url=running.gateway_url, log_dir=running.log_dir)


@pytest.fixture
def gateway(stack: RunningStack) -> Iterator[httpx.Client]:
    """An HTTP client bound to the gateway."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        yield client
