"""Hot pickup (issue 13, item 6): a bundle dropped in the store serves without a restart, and
only once whole; a half-copied folder is neither loaded nor a failure while it may be copying.

Each scan is the repository's `sync`: the tests call it themselves where they need to know a
scan has run, and otherwise wait for the service's own watch to serve what they dropped.
"""

import json
from pathlib import Path

import httpx
import pytest

from model_service.config import Settings
from model_service.deps import state_of
from model_service.main import create_app
from model_service.repository.arrivals import incomplete
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_repository import (
    ADMIN,
    bundle_files,
    no_unloaded_flags,
    predict,
    settled,
)
from tests.model_service.test_repository_replicas import answers, eventually

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags"]  # the autouse fixture applies here too
WATCH_SECONDS = 0.05
# A dropped bundle is verified in a child process (a Python start with scikit-learn) first.
LOAD_SECONDS = 120.0


@pytest.fixture
def watching(store: Path, redis_url: str) -> Settings:
    """A replica that rescans its store often."""
    return Settings(models_dir=store, redis_url=redis_url, watch_interval_seconds=WATCH_SECONDS)


def renamed(store: Path, name: str, version: str) -> dict[str, bytes]:
    """The iris bundle's files under another name and version."""
    files = bundle_files(store / "iris" / "1", version)
    manifest = json.loads(files["manifest.json"])
    files["manifest.json"] = json.dumps({**manifest, "name": name}).encode()
    return files


def drop(folder: Path, files: dict[str, bytes]) -> None:
    """Write a bundle's files into `folder`, as a copy by hand does."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


async def index_entry(client: httpx.AsyncClient, name: str, version: str) -> dict[str, str]:
    """The repository index's entry of `name/version`."""
    index = (await client.post("/v2/repository/index", headers=ADMIN)).json()
    entry: dict[str, str] = next(e for e in index if (e["name"], e["version"]) == (name, version))
    return entry


async def test_a_bundle_copied_in_steps_serves_once_whole_without_a_restart(
    store: Path, watching: Settings
) -> None:
    files = bundle_files(store / "iris" / "1", "2")
    model, target = files["model.skops"], store / "iris" / "2"
    app = create_app(watching)
    async with serve_in_process(app) as client:
        repository = state_of(app).repository
        drop(target, {"manifest.json": files["manifest.json"]})  # the manifest first
        await repository.sync()
        drop(target, {"model.skops": model[: len(model) // 2]})  # then half the model file
        await repository.sync()
        assert (await predict(client, "/models/iris/versions/2/predict")).status_code == 404
        ready = (await client.get("/readyz")).json()
        assert "iris/2" not in ready["models"]
        assert ready["status"] == "ready"
        entry = await index_entry(client, "iris", "2")
        assert entry["state"] == "UNAVAILABLE"
        assert entry["reason"].startswith("arriving, not loaded yet: sha256")

        drop(target, {"model.skops": model})  # the copy completes
        await eventually(answers(client, "/models/iris/versions/2/predict", 200), LOAD_SECONDS)

        async def first_stays_production() -> bool:
            described = (await client.get("/models/iris", headers=INTERNAL)).json()
            return (described["default_version"], described["aliases"]) == (
                "1",
                {"production": "1"},
            )

        await eventually(first_stays_production)


async def test_a_folder_left_incomplete_past_the_grace_period_fails_with_its_reason(
    store: Path, watching: Settings
) -> None:
    files = bundle_files(store / "iris" / "1", "2")
    target = store / "iris" / "2"
    drop(target, {**files, "model.skops": files["model.skops"][:100]})
    settled(target)
    app = create_app(watching)
    async with serve_in_process(app) as client:
        await state_of(app).repository.sync()
        ready = (await client.get("/readyz")).json()
    assert ready["status"] == "degraded"
    assert "sha256 of model.skops does not match" in ready["models"]["iris/2"]


async def test_an_unloaded_version_is_not_picked_up_again(store: Path, watching: Settings) -> None:
    async with serve_in_process(create_app(watching)) as client:
        unloaded = await client.post("/v2/repository/models/iris/unload", headers=ADMIN)
        assert unloaded.status_code == 200
        # A folder no model can be named after fails alone, and holds up no scan.
        drop(store / "Not A Name" / "1", renamed(store, "flower", "1"))
        # Once a bundle dropped after the unload serves, the watch has rescanned the store.
        drop(store / "flower" / "1", renamed(store, "flower", "1"))
        await eventually(answers(client, "/models/flower/predict", 200), LOAD_SECONDS)
        assert (await predict(client, "/models/iris/predict")).status_code == 404
        assert (await index_entry(client, "iris", "1"))["reason"] == "unloaded"


async def test_a_bundle_dropped_in_the_import_folder_is_imported_and_a_delete_holds(
    store: Path, redis_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "import"
    source.mkdir()
    settings = Settings(
        models_dir=store,
        import_dir=source,
        redis_url=redis_url,
        watch_interval_seconds=WATCH_SECONDS,
    )
    async with serve_in_process(create_app(settings)) as client:
        files = bundle_files(store / "iris" / "1", "2")
        drop(source / "iris" / "2", {"manifest.json": files["manifest.json"]})
        drop(source / "iris" / "2", {"model.skops": files["model.skops"]})
        await eventually(answers(client, "/models/iris/versions/2/predict", 200), LOAD_SECONDS)
        assert (await client.delete("/models/iris/versions/2", headers=ADMIN)).status_code == 204
        # Once a later drop serves, the watch has scanned the import folder since the delete.
        drop(source / "flower" / "1", renamed(store, "flower", "1"))
        await eventually(answers(client, "/models/flower/predict", 200), LOAD_SECONDS)
        assert not (store / "iris" / "2").exists()
        assert (await predict(client, "/models/iris/versions/2/predict")).status_code == 404


def test_a_folder_is_whole_only_with_its_manifest_and_its_model_files_sha256(
    store: Path, tmp_path: Path
) -> None:
    files = bundle_files(store / "iris" / "1", "2")
    folder = tmp_path / "iris" / "2"
    folder.mkdir(parents=True)
    assert incomplete(folder) == "manifest.json is missing"
    (folder / "manifest.json").write_bytes(files["manifest.json"][:40])
    assert "manifest.json is invalid" in str(incomplete(folder))
    (folder / "manifest.json").write_bytes(files["manifest.json"])
    assert incomplete(folder) == "model.skops is missing"
    (folder / "model.skops").write_bytes(files["model.skops"][:-1])
    assert incomplete(folder) == "sha256 of model.skops does not match the manifest"
    (folder / "model.skops").write_bytes(files["model.skops"])
    assert incomplete(folder) is None
