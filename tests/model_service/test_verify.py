"""Verification runs once per bundle and settings: the pass is recorded in the store, so a
restart (or another replica) loads without a child; a pass under other settings is not used."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
from sklearn.naive_bayes import GaussianNB

from model_service.config import Settings
from model_service.main import create_app
from model_service.models import verify
from tests.conftest import serve_in_process
from tests.model_service import crafted

pytestmark = pytest.mark.anyio
LISTED = ["sklearn.naive_bayes.GaussianNB"]


@pytest.fixture
def fresh_store(demo_models: Path, tmp_path: Path) -> Path:
    """Iris, never verified."""
    target = tmp_path / "models"
    shutil.copytree(demo_models / "iris", target / "iris")
    return target


async def readiness(settings: Settings) -> dict[str, str]:
    async with serve_in_process(create_app(settings)) as client:
        models: dict[str, str] = (await client.get("/readyz")).json()["models"]
    return models


def passes(store: Path) -> int:
    """The verdicts recorded in the store (each compiled model lies beside its verdict)."""
    return sum(1 for f in (store / verify.VERDICTS).iterdir() if f.suffix != ".onnx")


def no_child(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a verifying child was started")


async def test_a_restart_loads_from_the_recorded_pass(
    fresh_store: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(models_dir=fresh_store, redis_url=redis_url)
    assert await readiness(settings) == {"iris/1": "ready"}
    assert passes(fresh_store) == 1
    monkeypatch.setattr(subprocess, "Popen", no_child)
    assert await readiness(settings) == {"iris/1": "ready"}


async def test_a_pass_under_other_settings_is_not_used(fresh_store: Path, redis_url: str) -> None:
    model = GaussianNB().fit(crafted.ROWS, crafted.LABELS)
    crafted.estimator_bundle(fresh_store, "bayes", model)
    assert sio.get_untrusted_types(file=fresh_store / "bayes" / "1" / "model.skops") == []
    listed = Settings(models_dir=fresh_store, redis_url=redis_url, unvalidated_types=LISTED)
    assert (await readiness(listed))["bayes/1"] == "ready"
    strict = Settings(models_dir=fresh_store, redis_url=redis_url)
    assert "not a type Servir validates" in (await readiness(strict))["bayes/1"]


def test_the_child_memory_limit_stops_what_the_zip_limits_let_through(fresh_store: Path) -> None:
    model = crafted.inflated_skops()
    folder = fresh_store / "bomb" / "1"
    folder.mkdir(parents=True)
    (folder / "model.skops").write_bytes(model)
    (folder / "manifest.json").write_bytes(crafted.manifest_for("bomb", model))
    # The operator raised the zip limits; the child's address space still holds.
    settings = Settings(
        models_dir=fresh_store,
        max_model_unpacked_bytes=2**31,
        max_model_ratio=10_000,
        verify_memory_bytes=768 * 1024 * 1024,
    )
    reasons = verify.verify_bundles([fresh_store / "iris" / "1", folder], settings)
    assert reasons == {
        fresh_store / "iris" / "1": None,
        folder: "model.skops could not be loaded: MemoryError",
    }


def test_verify_store_records_passes_and_names_refusals(fresh_store: Path) -> None:
    model = GaussianNB().fit(crafted.ROWS, crafted.LABELS)
    crafted.estimator_bundle(fresh_store, "bayes", model)
    command = [sys.executable, "-m", "model_service.models.verify_store"]
    env = {**os.environ, "MODEL_MODELS_DIR": str(fresh_store)}
    done = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "bayes" in done.stderr
    assert "not a type Servir validates" in done.stderr
    assert "1 verified, 1 refused" in done.stdout
    assert passes(fresh_store) == 1  # iris's pass
