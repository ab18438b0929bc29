"""Aliases beyond `production` (issue 15, item 1): any name, called as
`/models/{name}@{alias}/predict` and as a V2 version, private (models:admin) unless public, at
most MODEL_MAX_ALIASES per model, removed with DELETE, followed by every replica."""

from pathlib import Path

import httpx
import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_aliases import point, served_version
from tests.model_service.test_repository import (
    ADMIN,
    SETOSA,
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
PREDICT_ONLY = {**INTERNAL, "X-Servir-Scopes": "models:read models:predict"}
ADMIN_SCOPES = {**INTERNAL, "X-Servir-Scopes": "models:predict models:admin"}


async def second_version(client: httpx.AsyncClient, store: Path) -> None:
    archive = bundle_archive(bundle_files(store / "iris" / "1", "2"))
    assert (await upload(client, archive)).status_code == 201


async def call(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] = INTERNAL
) -> httpx.Response:
    return await client.post(path, json={"instances": [SETOSA]}, headers=headers)


async def infer(client: httpx.AsyncClient, version: str, headers: dict[str, str]) -> httpx.Response:
    body = {"inputs": [tensor([[5.1, 3.5, 1.4, 0.2]])]}
    return await client.post(
        f"/v2/models/iris/versions/{version}/infer", json=body, headers=headers
    )


async def test_an_alias_is_called_by_name_and_as_a_v2_version(
    service: httpx.AsyncClient, store: Path
) -> None:
    await second_version(service, store)
    pointed = await point(service, "iris", "2", alias="canary")
    assert pointed.status_code == 200, pointed.text
    assert pointed.json()["aliases"] == {"production": "1", "canary": "2"}
    assert pointed.json()["public_aliases"] == ["production"]
    answered = await predict(service, "/models/iris@canary/predict")
    assert answered.status_code == 200, answered.text
    assert answered.json()["version"] == "2"
    assert await served_version(service) == "1"  # the plain routes keep serving production
    inferred = await infer(service, "canary", INTERNAL)
    assert inferred.status_code == 200, inferred.text
    assert inferred.json()["model_version"] == "2"
    assert (await predict(service, "/models/iris@production/predict")).json()["version"] == "1"


async def test_a_private_alias_needs_models_admin_until_made_public(
    service: httpx.AsyncClient, store: Path
) -> None:
    await second_version(service, store)
    assert (await point(service, "iris", "2", alias="canary")).status_code == 200
    refused = await call(service, "/models/iris@canary/predict", PREDICT_ONLY)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "models:admin" in refused.json()["detail"]
    assert (await infer(service, "canary", PREDICT_ONLY)).status_code == 403
    assert (await call(service, "/models/iris@canary/predict", ADMIN_SCOPES)).status_code == 200
    # production is public to every caller that may predict.
    assert (await call(service, "/models/iris@production/predict", PREDICT_ONLY)).status_code == 200
    public = await service.put(
        "/models/iris/aliases/canary", json={"version": "2", "public": True}, headers=ADMIN
    )
    assert public.json()["public_aliases"] == ["canary", "production"]
    assert (await call(service, "/models/iris@canary/predict", PREDICT_ONLY)).status_code == 200
    assert (await infer(service, "canary", PREDICT_ONLY)).status_code == 200


async def test_unknown_aliases_and_mixed_paths_are_404(service: httpx.AsyncClient) -> None:
    for path in ["/models/iris@nope/predict", "/models/iris@production/versions/1/predict"]:
        response = await call(service, path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    assert (await infer(service, "nope", INTERNAL)).status_code == 404


async def test_an_alias_is_removed_but_production_is_not(
    service: httpx.AsyncClient, store: Path
) -> None:
    await second_version(service, store)
    assert (await point(service, "iris", "2", alias="canary")).status_code == 200
    assert (await service.delete("/models/iris/aliases/canary", headers=ADMIN)).status_code == 204
    assert (await call(service, "/models/iris@canary/predict")).status_code == 404
    assert (await service.delete("/models/iris/aliases/canary", headers=ADMIN)).status_code == 404
    kept = await service.delete("/models/iris/aliases/production", headers=ADMIN)
    assert kept.status_code == 409
    assert "point it at another version" in kept.json()["detail"]
    described = (await service.get("/models/iris", headers=INTERNAL)).json()
    assert described["aliases"] == {"production": "1"}


async def test_at_most_max_aliases_per_model(store: Path, redis_url: str) -> None:
    settings = Settings(models_dir=store, redis_url=redis_url, max_aliases=3)
    async with serve_in_process(create_app(settings)) as service:
        for alias in ["production", "a", "b"]:
            assert (await point(service, "iris", "1", alias=alias)).status_code == 200
        refused = await point(service, "iris", "1", alias="c")
        assert refused.status_code == 422
        assert "MODEL_MAX_ALIASES" in refused.json()["detail"]
        assert (await point(service, "iris", "1", alias="b")).status_code == 200  # moved: fine
        assert (await point(service, "churn", "1", alias="c")).status_code == 200  # per model
        assert (await service.delete("/models/iris/aliases/a", headers=ADMIN)).status_code == 204
        assert (await point(service, "iris", "1", alias="c")).status_code == 200


async def test_every_replica_follows_a_new_alias_and_its_removal(
    replicas: list[httpx.AsyncClient], store: Path
) -> None:
    first, second = replicas
    await second_version(first, store)

    async def second_has_2() -> bool:
        return (await predict(second, "/models/iris/versions/2/predict")).status_code == 200

    await eventually(second_has_2)
    assert (await point(first, "iris", "2", alias="canary")).status_code == 200

    async def second_answers(status: int) -> bool:
        return (await call(second, "/models/iris@canary/predict")).status_code == status

    await eventually(lambda: second_answers(200), seconds=1.0)
    assert (await first.delete("/models/iris/aliases/canary", headers=ADMIN)).status_code == 204
    await eventually(lambda: second_answers(404), seconds=1.0)
