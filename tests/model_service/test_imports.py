"""Bundles dropped in the host's models/ are imported into the shared store at start."""

import json
import shutil
from pathlib import Path

import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service import crafted

pytestmark = pytest.mark.anyio
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


async def test_new_bundles_are_imported_and_existing_ones_kept(
    demo_models: Path, tmp_path: Path, redis_url: str
) -> None:
    dropped = tmp_path / "dropped"
    shutil.copytree(demo_models / "iris", dropped / "iris")
    shutil.copytree(dropped / "iris" / "1", dropped / "iris" / "2")
    manifest = json.loads((dropped / "iris" / "2" / "manifest.json").read_text())
    (dropped / "iris" / "2" / "manifest.json").write_text(json.dumps({**manifest, "version": "2"}))
    (dropped / "Not A Name" / "1").mkdir(parents=True)
    store = tmp_path / "store"
    shutil.copytree(demo_models / "iris", store / "iris")
    original = (store / "iris" / "1" / "manifest.json").read_bytes()
    settings = Settings(models_dir=store, import_dir=dropped, redis_url=redis_url)
    async with serve_in_process(create_app(settings)) as client:
        listed = (await client.get("/models", headers=INTERNAL)).json()
        answer = await client.post(
            "/models/iris/versions/2/predict", json={"instances": [SETOSA]}, headers=INTERNAL
        )
    assert listed[0]["versions"] == ["1", "2"]
    assert answer.json()["predictions"] == ["setosa"]
    assert (store / "iris" / "1" / "manifest.json").read_bytes() == original
    assert not (store / "Not A Name").exists()


async def test_an_imported_bundle_is_verified_before_it_serves(
    verified_demo_models: Path, tmp_path: Path, redis_url: str
) -> None:
    dropped = tmp_path / "dropped"
    crafted.tree_bundle(dropped, "bad-tree", crafted.children_out_of_range)
    store = tmp_path / "store"
    shutil.copytree(verified_demo_models, store)
    settings = Settings(models_dir=store, import_dir=dropped, redis_url=redis_url)
    async with serve_in_process(create_app(settings)) as client:
        ready = (await client.get("/readyz")).json()["models"]
        iris = await client.post(
            "/models/iris/predict", json={"instances": [SETOSA]}, headers=INTERNAL
        )
    assert "points backwards or outside the tree" in ready["bad-tree/1"]
    assert iris.status_code == 200
