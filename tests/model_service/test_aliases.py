"""The `production` alias: the version a model's unversioned routes serve (issue 13, item 4;
other aliases: test_alias_names.py).

A model's first version becomes production; later ones never do by themselves; an admin moves
it with PUT, every replica follows (through the event, or its sync when it missed it).
"""

import json
import logging
from pathlib import Path

import httpx
import pytest
import redis

from model_service import redis_keys
from model_service.config import Settings
from model_service.deps import state_of
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_repository import (
    ADMIN,
    bundle_archive,
    bundle_files,
    no_unloaded_flags,
    predict,
    service,
    upload,
)
from tests.model_service.test_repository_replicas import eventually, replicas
from tests.model_service.test_v2 import tensor

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags", "replicas", "service"]  # fixtures used here


def renamed(source: Path, name: str, version: str) -> bytes:
    """An archive of a demo bundle under another model name and version."""
    files = bundle_files(source, version)
    manifest = json.loads(files["manifest.json"])
    manifest["name"] = name
    files["manifest.json"] = json.dumps(manifest).encode()
    return bundle_archive(files)


async def point(
    client: httpx.AsyncClient, name: str, version: str, alias: str = "production"
) -> httpx.Response:
    """PUT the alias."""
    return await client.put(
        f"/models/{name}/aliases/{alias}", json={"version": version}, headers=ADMIN
    )


async def served_version(client: httpx.AsyncClient, name: str = "iris") -> str:
    """The version the unversioned predict route answers with."""
    response = await predict(client, f"/models/{name}/predict")
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


async def test_a_models_first_version_is_production_and_a_second_takes_no_traffic(
    service: httpx.AsyncClient, store: Path
) -> None:
    first = await upload(service, renamed(store / "iris" / "1", "flower", "1"))
    assert first.status_code == 201, first.text
    assert (first.json()["default_version"], first.json()["aliases"]) == ("1", {"production": "1"})
    second = await upload(service, renamed(store / "iris" / "1", "flower", "2"))
    assert second.status_code == 201, second.text
    assert (second.json()["default_version"], second.json()["aliases"]) == (
        "1",
        {"production": "1"},
    )
    assert await served_version(service, "flower") == "1"

    moved = await point(service, "flower", "2")
    assert moved.status_code == 200, moved.text
    assert moved.json()["default_version"] == "2"
    assert moved.json()["aliases"] == {"production": "2"}
    assert await served_version(service, "flower") == "2"
    infer = {"inputs": [tensor([[5.1, 3.5, 1.4, 0.2]])]}
    v2 = await service.post("/v2/models/flower/infer", json=infer, headers=INTERNAL)
    assert v2.json()["model_version"] == "2"
    listed = {m["name"]: m for m in (await service.get("/models", headers=INTERNAL)).json()}
    assert (listed["flower"]["default_version"], listed["flower"]["aliases"]) == (
        "2",
        {"production": "2"},
    )


async def test_bundles_in_the_store_without_an_alias_serve_their_lowest_version(
    store: Path, model_settings: Settings
) -> None:
    files = bundle_files(store / "iris" / "1", "2")
    (store / "iris" / "2").mkdir()
    for name, data in files.items():
        (store / "iris" / "2" / name).write_bytes(data)
    async with serve_in_process(create_app(model_settings)) as client:
        described = (await client.get("/models/iris", headers=INTERNAL)).json()
        assert (described["default_version"], described["aliases"]) == ("1", {})
        assert await served_version(client) == "1"


async def test_the_production_version_cannot_be_deleted_but_the_last_one_can(
    service: httpx.AsyncClient, store: Path, redis_url: str
) -> None:
    assert (
        await upload(service, bundle_archive(bundle_files(store / "iris" / "1", "2")))
    ).status_code == 201
    refused = await service.delete("/models/iris/versions/1", headers=ADMIN)
    assert refused.status_code == 409
    assert "production" in refused.json()["detail"]
    assert (store / "iris" / "1").is_dir()

    assert (await point(service, "iris", "2")).status_code == 200
    assert (await service.delete("/models/iris/versions/1", headers=ADMIN)).status_code == 204
    assert await served_version(service) == "2"
    assert (await service.delete("/models/iris/versions/2", headers=ADMIN)).status_code == 204
    client = redis.Redis.from_url(redis_url)
    assert client.hget(redis_keys.ALIASES, "iris@production") is None
    client.close()


@pytest.mark.parametrize(
    ("alias", "body", "status"),
    [
        ("staging", {"version": "1", "public": "yes"}, 422),  # strict: a bool
        ("-staging", {"version": "1"}, 422),
        ("s" * 33, {"version": "1"}, 422),
        ("Prod!", {"version": "1"}, 422),
        ("production", {"version": "7"}, 422),  # no such version
        ("production", {"version": "0"}, 422),  # not a version
        ("production", {"version": 1}, 422),
        ("production", {}, 422),
    ],
)
async def test_bad_alias_names_and_versions_are_422(
    service: httpx.AsyncClient, alias: str, body: dict[str, object], status: int
) -> None:
    response = await service.put(f"/models/iris/aliases/{alias}", json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    assert response.json()["errors"], response.text
    assert await served_version(service) == "1"


async def test_an_unloaded_version_cannot_become_production(
    service: httpx.AsyncClient, store: Path
) -> None:
    assert (
        await upload(service, bundle_archive(bundle_files(store / "iris" / "1", "2")))
    ).status_code == 201
    await service.post("/v2/repository/models/iris/unload", headers=ADMIN)
    assert (await point(service, "iris", "2")).status_code == 422
    assert (await point(service, "nope", "1")).status_code == 404


async def test_unload_and_load_keep_the_alias(service: httpx.AsyncClient, store: Path) -> None:
    assert (
        await upload(service, bundle_archive(bundle_files(store / "iris" / "1", "2")))
    ).status_code == 201
    assert (await point(service, "iris", "2")).status_code == 200
    await service.post("/v2/repository/models/iris/unload", headers=ADMIN)
    await service.post("/v2/repository/models/iris/load", headers=ADMIN)
    assert await served_version(service) == "2"


async def test_moving_production_is_audited(
    service: httpx.AsyncClient, store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert (
        await upload(service, bundle_archive(bundle_files(store / "iris" / "1", "2")))
    ).status_code == 201
    with caplog.at_level(logging.INFO, logger="servir.audit"):
        await point(service, "iris", "2")
    audits = [vars(r) for r in caplog.records if getattr(r, "action", "") == "model.alias"]
    assert [(a["action"], a["target"], a["version"], a["previous"]) for a in audits] == [
        ("model.alias", "iris@production", "2", "1")
    ]
    assert audits[0]["actor"] == "alice"


async def test_the_other_replica_follows_and_a_late_one_catches_up(
    replicas: list[httpx.AsyncClient], store: Path, model_settings: Settings
) -> None:
    first, second = replicas
    assert (
        await upload(first, bundle_archive(bundle_files(store / "iris" / "1", "2")))
    ).status_code == 201

    async def second_loaded() -> bool:
        return (await predict(second, "/models/iris/versions/2/predict")).status_code == 200

    await eventually(second_loaded)
    assert (await point(first, "iris", "2")).status_code == 200

    async def second_serves_2() -> bool:
        return await served_version(second) == "2"

    await eventually(second_serves_2, seconds=1.0)
    async with serve_in_process(create_app(model_settings)) as late:
        assert await served_version(late) == "2"
        described = (await late.get("/models/iris", headers=INTERNAL)).json()
        assert described["aliases"] == {"production": "2"}


async def test_a_replica_that_missed_the_event_follows_at_its_next_sync(
    store: Path, model_settings: Settings, redis_url: str
) -> None:
    files = bundle_files(store / "iris" / "1", "2")
    (store / "iris" / "2").mkdir()
    for name, data in files.items():
        (store / "iris" / "2" / name).write_bytes(data)
    app = create_app(model_settings)
    async with serve_in_process(app) as client:
        assert await served_version(client) == "1"
        client_redis = redis.Redis.from_url(redis_url)
        client_redis.hset(redis_keys.ALIASES, "iris@production", "2")  # no event published
        client_redis.close()
        await state_of(app).repository.sync()
        assert await served_version(client) == "2"


async def test_without_redis_an_alias_cannot_move(store: Path, dead_redis_url: str) -> None:
    settings = Settings(models_dir=store, redis_url=dead_redis_url)
    async with serve_in_process(create_app(settings)) as client:
        moved = await point(client, "iris", "1")
        assert moved.status_code == 503
        assert moved.headers["Retry-After"] == "5"
        assert await served_version(client) == "1"
