"""Model-service fixtures: a writable copy of the demo bundles and a running app."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import serve_in_process


@pytest.fixture
def store(demo_models: Path, tmp_path: Path) -> Path:
    """A model store this test may change."""
    target = tmp_path / "models"
    shutil.copytree(demo_models, target)
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
