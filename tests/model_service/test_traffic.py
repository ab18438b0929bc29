"""Traffic splits (issue 15, item 2): a model's unversioned routes shared between versions by
integer weights, sticky per principal or per header when asked, followed by every replica;
versioned and aliased routes never split.

Bounds are binomial: a share p of n draws lies within 5 standard deviations of n*p (a false
failure about once in two million runs)."""

from math import sqrt
from pathlib import Path

import httpx
import pytest

from tests.conftest import INTERNAL
from tests.model_service.test_repository import (
    ADMIN,
    SETOSA,
    bundle_archive,
    bundle_files,
    no_unloaded_flags,
    service,
    upload,
)
from tests.model_service.test_repository_replicas import eventually, replicas

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags", "replicas", "service"]  # fixtures used here


def within(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 5 * sqrt(n * p * (1 - p))


async def two_versions(client: httpx.AsyncClient, store: Path) -> None:
    archive = bundle_archive(bundle_files(store / "iris" / "1", "2"))
    assert (await upload(client, archive)).status_code == 201


async def split(client: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    return await client.put("/models/iris/traffic", json=body, headers=ADMIN)


async def version_of(
    client: httpx.AsyncClient, path: str = "/models/iris/predict", **headers: str
) -> str:
    response = await client.post(
        path, json={"instances": [SETOSA]}, headers={**INTERNAL, **headers}
    )
    assert response.status_code == 200, response.text
    answered: str = response.json()["version"]
    return answered


async def test_a_90_10_split_over_2000_requests(service: httpx.AsyncClient, store: Path) -> None:
    await two_versions(service, store)
    answer = await split(service, {"split": {"1": 90, "2": 10}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"split": {"1": 90, "2": 10}, "sticky_by": None, "shadow": None}
    assert (await service.get("/models/iris/traffic", headers=INTERNAL)).json() == answer.json()
    seconds = [await version_of(service) for _ in range(2000)]
    assert set(seconds) == {"1", "2"}
    assert within(seconds.count("2"), 2000, 0.10), seconds.count("2")


@pytest.mark.parametrize(("sticky_by", "header"), [("principal", "X-Servir-Principal"),
                                                   ("X-User", "X-User")])  # fmt: skip
async def test_a_sticky_split_keeps_each_caller_on_one_version(
    service: httpx.AsyncClient, store: Path, sticky_by: str, header: str
) -> None:
    await two_versions(service, store)
    body: dict[str, object] = {"split": {"1": 80, "2": 20}, "sticky_by": sticky_by}
    assert (await split(service, body)).status_code == 200
    on_2 = 0
    for caller in range(300):
        seen = {await version_of(service, **{header: f"caller-{caller}"}) for _ in range(3)}
        assert len(seen) == 1, f"caller-{caller} moved between versions: {seen}"
        on_2 += seen == {"2"}
    assert within(on_2, 300, 0.20), on_2
    # A request without the key draws at random: both versions still answer.
    assert {await version_of(service) for _ in range(200)} == {"1", "2"}


async def test_only_the_plain_routes_split(service: httpx.AsyncClient, store: Path) -> None:
    await two_versions(service, store)
    assert (await split(service, {"split": {"1": 0, "2": 100}})).status_code == 200
    assert {await version_of(service) for _ in range(50)} == {"2"}
    assert await version_of(service, "/models/iris/versions/1/predict") == "1"
    assert await version_of(service, "/models/iris@production/predict") == "1"
    described = (await service.get("/models/iris", headers=INTERNAL)).json()
    assert described["default_version"] == "1"  # production, which the split does not move


async def test_clearing_the_split_gives_production_back(
    service: httpx.AsyncClient, store: Path
) -> None:
    await two_versions(service, store)
    assert (await split(service, {"split": {"2": 100}})).status_code == 200
    assert await version_of(service) == "2"
    refused = await service.delete("/models/iris/versions/2", headers=ADMIN)
    assert refused.status_code == 409
    assert "traffic" in refused.json()["detail"]
    assert (await service.delete("/models/iris/traffic", headers=ADMIN)).status_code == 204
    assert {await version_of(service) for _ in range(20)} == {"1"}
    assert (await service.get("/models/iris/traffic", headers=INTERNAL)).status_code == 404
    assert (await service.delete("/models/iris/traffic", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"split": {"1": 90}},  # not 100
        {"split": {"1": 90, "2": 20}},
        {"split": {"1": 101}},
        {"split": {"1": 110, "2": -10}},
        {"split": {"1": 50.0, "2": 50}},  # integers only
        {"split": {}},
        {"split": {"1": 50, "7": 50}},  # 7 is not loaded
        {"split": {"1": 100}, "sticky_by": "a header"},
        {"split": {"1": 100}, "sticky_by": ""},
        {"split": {"1": 100}, "unknown": 1},
    ],
)
async def test_bad_splits_are_422_and_change_nothing(
    service: httpx.AsyncClient, store: Path, body: dict[str, object]
) -> None:
    await two_versions(service, store)
    response = await split(service, body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]
    assert (await service.get("/models/iris/traffic", headers=INTERNAL)).status_code == 404


async def test_an_unknown_model_has_no_split(service: httpx.AsyncClient) -> None:
    put = await service.put("/models/nope/traffic", json={"split": {"1": 100}}, headers=ADMIN)
    assert put.status_code == 404
    assert (await service.get("/models/nope/traffic", headers=INTERNAL)).status_code == 404


async def test_every_replica_follows_the_split(
    replicas: list[httpx.AsyncClient], store: Path
) -> None:
    first, second = replicas
    await two_versions(first, store)

    async def second_has_2() -> bool:
        path = "/models/iris/versions/2/predict"
        response = await second.post(path, json={"instances": [SETOSA]}, headers=INTERNAL)
        return response.status_code == 200

    await eventually(second_has_2)
    assert (await split(first, {"split": {"2": 100}})).status_code == 200

    async def second_serves_2() -> bool:
        return await version_of(second) == "2"

    await eventually(second_serves_2, seconds=1.0)
    assert (await first.delete("/models/iris/traffic", headers=ADMIN)).status_code == 204

    async def second_serves_1() -> bool:
        return await version_of(second) == "1"

    await eventually(second_serves_1, seconds=1.0)
