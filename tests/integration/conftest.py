"""The real stack for integration tests: a redis-server and the three services as processes,
or, with SERVIR_STACK_URL set, a stack that already runs (e.g. docker compose)."""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from auth_service.config import DEV_ADMIN_PASSWORD
from servir_runtime.stack import Stack


@dataclass(frozen=True)
class RunningStack:
    """What a test may use: the gateway's URL, the admin's password, the services' logs when
    the tests own them, and the auth-service's signing key when the tests gave it one."""

    gateway_url: str
    log_dir: Path | None
    admin_password: str = DEV_ADMIN_PASSWORD
    signing_key: Ed25519PrivateKey | None = None

    def log(self, service: str) -> str | None:
        """The service's log so far, or None for a stack these tests did not start."""
        if self.log_dir is None:
            return None
        return (self.log_dir / f"{service}.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[RunningStack]:
    """The stack under test, ready."""
    url = os.environ.get("SERVIR_STACK_URL")
    if url:
        yield RunningStack(
            gateway_url=url.rstrip("/"),
            log_dir=None,
            admin_password=os.environ.get("SERVIR_STACK_ADMIN_PASSWORD", DEV_ADMIN_PASSWORD),
            signing_key=_key_from_file(os.environ.get("SERVIR_STACK_SIGNING_KEY_FILE")),
        )
        return
    key = Ed25519PrivateKey.generate()
    env = {**stack_env(key), "MODEL_MODELS_DIR": str(copy_models(demo_models, tmp_path_factory))}
    with Stack(data_dir=tmp_path_factory.mktemp("stack"), env=env) as running:
        yield RunningStack(
            gateway_url=running.gateway_url, log_dir=running.log_dir, signing_key=key
        )


def stack_env(key: Ed25519PrivateKey) -> dict[str, str]:
    """The test stack's settings: every request logged (tests follow request ids into each
    service's log), a signing key the tests know (to forge tokens with it), and per-IP budgets
    (the auth-service's logins; the gateway's token, public-write and failed-authentication
    limits) that the whole suite, all from 127.0.0.1, cannot exhaust; nor can the loads of the
    fault and balancing tests, hundreds of requests a second as the admin, exhaust its
    per-principal budget (the rate-limit tests set their own)."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return {
        "SERVIR_ENV": "test",
        **{f"{p}_ACCESS_LOG_SAMPLE": "1" for p in ("GATEWAY", "AUTH", "MODEL")},
        "AUTH_SIGNING_KEY": pem,
        "AUTH_LOGIN_IP_MAX_FAILURES": "1000",
        "GATEWAY_RATE_LIMIT_DEFAULT": "1000000/60",
        "GATEWAY_RATE_LIMIT_TOKEN": "100000/60",
        "GATEWAY_RATE_LIMIT_PUBLIC": "100000/60",
        "GATEWAY_RATE_LIMIT_AUTH_FAILURES": "100000/60",
    }


def copy_models(demo_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the demo bundles: the stack's own model store."""
    store = tmp_path_factory.mktemp("store") / "models"
    shutil.copytree(demo_models, store)
    return store


def _key_from_file(path: str | None) -> Ed25519PrivateKey | None:
    if not path:
        return None
    key = load_pem_private_key(Path(path).read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey), "SERVIR_STACK_SIGNING_KEY_FILE must hold Ed25519"
    return key


@pytest.fixture
def gateway(stack: RunningStack) -> Iterator[httpx.Client]:
    """An HTTP client bound to the gateway."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        yield client
