"""Model-service fixtures: a writable copy of the demo bundles and a running app."""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from model_service import redis_keys
from model_service.config import Settings
from model_service.main import create_app
from model_service.models.verify import verify_bundles
from tests.conftest import serve_in_process
from tests.model_service.frames import write_frame_bundle


@pytest.fixture(scope="session")
def verified_demo_models(demo_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bundles with their verification passes recorded (as after a first start), so
    each test's service skips the child process; read-only, like `demo_models`."""
    target: Path = tmp_path_factory.mktemp("verified") / "models"
    shutil.copytree(demo_models, target)
    folders = sorted(p for p in target.glob("*/*") if p.is_dir())
    assert set(verify_bundles(folders, Settings(models_dir=target)).values()) == {None}
    return target


@pytest.fixture
def store(verified_demo_models: Path, tmp_path: Path) -> Path:
    """A model store this test may change."""
    target = tmp_path / "models"
    shutil.copytree(verified_demo_models, target)
    return target


@pytest.fixture
def model_settings(store: Path, redis_url: str) -> Settings:
    """Settings over the test's own store."""
    return Settings(models_dir=store, redis_url=redis_url)


@pytest.fixture
async def models(model_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A running model-service with the demo bundles."""
    async with serve_in_process(create_app(model_settings)) as client:
        yield client


@pytest.fixture(scope="session")
def frame_models(
    verified_demo_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    """The demo bundles and a DataFrame-fitted pipeline's (tests/model_service/frames.py), all
    verified once; read-only. The fitted pipeline comes along to compare answers with."""
    target: Path = tmp_path_factory.mktemp("frames") / "models"
    shutil.copytree(verified_demo_models, target)
    model = write_frame_bundle(target)
    folders = sorted(p for p in target.glob("*/*") if p.is_dir())
    assert set(verify_bundles(folders, Settings(models_dir=target)).values()) == {None}
    return target, model


@pytest.fixture(autouse=True)
def no_aliases(redis_url: str) -> Iterator[None]:
    """Aliases live in the session's Redis: no test may leave them to the next (whose store
    may lack the version they point at)."""
    client = redis.Redis.from_url(redis_url)
    client.delete(redis_keys.ALIASES, redis_keys.ALIASES_PUBLIC)
    yield
    client.delete(redis_keys.ALIASES, redis_keys.ALIASES_PUBLIC)
    client.close()
