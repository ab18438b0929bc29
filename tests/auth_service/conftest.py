"""In-process auth-service with a real Redis database of its own and keys in a temp folder."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import redis

from auth_service.config import Settings
from auth_service.main import create_app
from auth_service.state import AuthState
from servir_runtime.state import service_state
from tests.conftest import INTERNAL, serve_in_process

AUTH_DB = 5
ADMIN = {**INTERNAL, "X-Servir-Principal": "admin", "X-Servir-Scopes": "users:admin models:read"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def as_principal(name: str, scopes: str = "models:read models:predict") -> dict[str, str]:
    """Headers the gateway adds for an authenticated caller."""
    return {**INTERNAL, "X-Servir-Principal": name, "X-Servir-Scopes": scopes}


@pytest.fixture
def auth_redis_url(redis_url: str) -> str:
    """A Redis database of the auth tests' own, emptied before each test."""
    url = redis_url.rsplit("/", 1)[0] + f"/{AUTH_DB}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def auth_settings(auth_redis_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test Redis, keys in a temp folder, fast enough argon2."""
    return Settings(
        redis_url=auth_redis_url,
        keys_dir=tmp_path / "keys",
        admin_password="admin-password-for-tests",  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running_auth(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A running auth-service whose bootstrap admin is in place."""
    app = create_app(settings)
    async with serve_in_process(app) as client:
        await service_state(app, AuthState).bootstrap
        yield client


@pytest.fixture
async def auth(auth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running auth-service."""
    async with running_auth(auth_settings) as client:
        yield client


async def login(
    client: httpx.AsyncClient, username: str, password: str, **extra: str
) -> httpx.Response:
    """POST /auth/token with the password grant."""
    form = {"grant_type": "password", "username": username, "password": password, **extra}
    return await client.post("/auth/token", data=form, headers=INTERNAL)


async def create_user(
    client: httpx.AsyncClient,
    username: str,
    password: str = "user-password-1",
    scopes: list[str] | None = None,
) -> httpx.Response:
    """POST /auth/users as the admin."""
    body: dict[str, object] = {"username": username, "password": password}
    if scopes is not None:
        body["scopes"] = scopes
    return await client.post("/auth/users", json=body, headers=ADMIN)
