"""The model repository on one replica: upload, unload, load, delete, the index, the audit log.

The archive helpers here serve the other test_repository* modules too.
"""

import io
import json
import logging
import os
import tarfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from model_service import redis_keys
from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process

pytestmark = pytest.mark.anyio
ADMIN = {**INTERNAL, "X-Servir-Principal": "alice"}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def member(name: str, data: bytes = b"", **fields: Any) -> tuple[tarfile.TarInfo, bytes]:
    """One archive member (a regular file unless `type=` says otherwise)."""
    info = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def targz(members: list[tuple[tarfile.TarInfo, bytes]], **options: Any) -> bytes:
    """A .tar.gz of exactly these members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", **options) as tar:
        for info, data in members:
            # Links and devices carry no data; pax headers (type g) do.
            has_data = info.isreg() or bool(data)
            info.size = len(data) if has_data else 0
            tar.addfile(info, io.BytesIO(data) if has_data else None)
    return buffer.getvalue()


def bundle_files(source: Path, version: str) -> dict[str, bytes]:
    """A demo bundle's files with the manifest moved to another version."""
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["version"] = version
    return {
        "manifest.json": json.dumps(manifest).encode(),
        "model.skops": (source / "model.skops").read_bytes(),
    }


def bundle_archive(files: dict[str, bytes], folder: str = "") -> bytes:
    """A well-formed bundle archive (files at the top level, or in one folder)."""
    prefix = f"{folder}/" if folder else ""
    return targz([member(prefix + name, data) for name, data in files.items()])


def settled(folder: Path) -> None:
    """Date a bundle folder's files an hour back: bad for longer than the grace period, it is
    a bad bundle (a fresh one may still be being copied, and waits)."""
    an_hour_ago = time.time() - 3600
    for path in (folder, *folder.iterdir()):
        os.utime(path, (an_hour_ago, an_hour_ago))


async def upload(client: httpx.AsyncClient, archive: bytes) -> httpx.Response:
    """POST /models with the archive as the `bundle` part."""
    files = {"bundle": ("bundle.tar.gz", archive, "application/gzip")}
    return await client.post("/models", files=files, headers=ADMIN)


async def predict(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """One iris prediction at `path`."""
    return await client.post(path, json={"instances": [SETOSA]}, headers=INTERNAL)


def store_listing(store: Path) -> set[str]:
    """Every path in the store but the (empty or not) work folders themselves."""
    return {
        str(path.relative_to(store))
        for path in store.rglob("*")
        if path.name not in {".incoming", ".trash"}
    }


@pytest.fixture(autouse=True)
def no_unloaded_flags(redis_url: str) -> Iterator[None]:
    """Unload flags live in the session's Redis: no test may leave them to the next."""
    client = redis.Redis.from_url(redis_url)
    client.delete(redis_keys.UNLOADED)
    yield
    client.delete(redis_keys.UNLOADED)
    client.close()


@pytest.fixture
async def service(model_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One model-service replica over the test's own store."""
    async with serve_in_process(create_app(model_settings)) as client:
        yield client


async def test_uploaded_version_serves_until_deleted(
    service: httpx.AsyncClient, store: Path
) -> None:
    archive = bundle_archive(bundle_files(store / "iris" / "1", "2"), folder="iris-2")
    created = await upload(service, archive)
    assert created.status_code == 201, created.text
    assert created.json()["versions"] == ["1", "2"]
    # A new version takes no traffic by itself: the first stays production.
    assert created.json()["default_version"] == "1"
    assert created.json()["aliases"] == {"production": "1"}
    assert (await predict(service, "/models/iris/versions/2/predict")).json()["version"] == "2"

    unloaded = await service.post("/v2/repository/models/iris/unload", headers=ADMIN)
    assert unloaded.status_code == 200
    assert (await predict(service, "/models/iris/predict")).status_code == 404

    loaded = await service.post("/v2/repository/models/iris/load", headers=ADMIN)
    assert loaded.status_code == 200
    assert (await predict(service, "/models/iris/versions/2/predict")).status_code == 200

    deleted = await service.delete("/models/iris/versions/2", headers=ADMIN)
    assert deleted.status_code == 204
    assert (await predict(service, "/models/iris/versions/2/predict")).status_code == 404
    assert (await predict(service, "/models/iris/versions/1/predict")).status_code == 200
    assert not (store / "iris" / "2").exists()
    assert (await service.delete("/models/iris/versions/2", headers=ADMIN)).status_code == 404


async def test_tampered_model_file_is_refused_with_the_reason(
    service: httpx.AsyncClient, store: Path
) -> None:
    files = bundle_files(store / "iris" / "1", "2")
    files["model.skops"] += b"tampered"
    before = store_listing(store)
    response = await upload(service, bundle_archive(files))
    assert response.status_code == 422
    assert "sha256 of model.skops does not match" in response.json()["detail"]
    assert store_listing(store) == before


async def test_index_lists_ready_and_unavailable_with_reasons(
    store: Path, model_settings: Settings
) -> None:
    with (store / "churn" / "1" / "model.skops").open("ab") as file:
        file.write(b"tampered")
    settled(store / "churn" / "1")
    async with serve_in_process(create_app(model_settings)) as client:
        await client.post("/v2/repository/models/breast-cancer/unload", headers=ADMIN)
        index = (await client.post("/v2/repository/index", headers=ADMIN)).json()
        ready = await client.post("/v2/repository/index", json={"ready": True}, headers=ADMIN)
    states = {(e["name"], e["version"]): (e["state"], e["reason"]) for e in index}
    assert states[("iris", "1")] == ("READY", "")
    assert states[("breast-cancer", "1")] == ("UNAVAILABLE", "unloaded")
    assert states[("churn", "1")][0] == "UNAVAILABLE"
    assert "sha256" in states[("churn", "1")][1]
    assert [entry["name"] for entry in ready.json()] == ["iris"]


async def test_loading_a_broken_model_says_why(store: Path, model_settings: Settings) -> None:
    async with serve_in_process(create_app(model_settings)) as client:
        with (store / "iris" / "1" / "model.skops").open("ab") as file:
            file.write(b"tampered")
        response = await client.post("/v2/repository/models/iris/load", headers=ADMIN)
    assert response.status_code == 422
    assert "iris/1: sha256 of model.skops does not match" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/repository/models/nope/load"),
        ("POST", "/v2/repository/models/nope/unload"),
        ("DELETE", "/models/nope/versions/1"),
        ("DELETE", "/models/iris/versions/7"),
        ("DELETE", "/models/%2e%2e/versions/iris"),
        ("DELETE", "/models/iris/versions/%2e%2e"),
    ],
)
async def test_unknown_models_are_not_found(
    service: httpx.AsyncClient, store: Path, method: str, path: str
) -> None:
    before = store_listing(store)
    response = await service.request(method, path, headers=ADMIN)
    assert response.status_code == 404
    assert store_listing(store) == before


async def test_every_admin_action_is_audited(
    service: httpx.AsyncClient, store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = {"bundle": ("b.tar.gz", bundle_archive(bundle_files(store / "iris" / "1", "3")))}
    headers = {**ADMIN, "X-Request-ID": "audit-me"}
    with caplog.at_level(logging.INFO, logger="servir.audit"):
        await service.post("/models", files=files, headers=headers)
        await service.post("/v2/repository/models/iris/unload", headers=ADMIN)
        await service.post("/v2/repository/models/iris/load", headers=ADMIN)
        await service.delete("/models/iris/versions/3", headers=ADMIN)
    audits = [vars(record) for record in caplog.records if record.name == "servir.audit"]
    assert [(a["action"], a["target"]) for a in audits] == [
        ("model.upload", "iris/3"),
        ("model.unload", "iris"),
        ("model.load", "iris"),
        ("model.delete", "iris/3"),
    ]
    assert all(a["actor"] == "alice" and isinstance(a["at"], float) for a in audits)
    assert audits[0]["request_id"] == "audit-me"
