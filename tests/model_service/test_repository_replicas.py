"""Two replicas over one store and one Redis: a change through one reaches the other."""

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx
import pytest

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import serve_in_process
from tests.model_service.test_repository import (
    ADMIN,
    bundle_archive,
    bundle_files,
    no_unloaded_flags,
    predict,
    upload,
)

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags"]  # the autouse fixture applies here too
FOLLOW_SECONDS = 2.0


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = FOLLOW_SECONDS) -> None:
    """Wait until `check` holds, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the other replica did not follow in time"
        await anyio.sleep(0.05)


def answers(client: httpx.AsyncClient, path: str, status: int) -> Callable[[], Awaitable[bool]]:
    """A check: an iris prediction at `path` answers `status`."""

    async def check() -> bool:
        return (await predict(client, path)).status_code == status

    return check


@pytest.fixture
async def replicas(model_settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two replicas sharing the test's store and Redis."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(serve_in_process(create_app(model_settings)))
            for _ in range(2)
        ]


async def test_an_upload_through_one_replica_serves_on_the_other(
    replicas: list[httpx.AsyncClient], store: Path
) -> None:
    first, second = replicas
    archive = bundle_archive(bundle_files(store / "iris" / "1", "2"))
    assert (await upload(first, archive)).status_code == 201
    await eventually(answers(second, "/models/iris/versions/2/predict", 200))
    again = await upload(second, archive)  # the same bundle: a retry, answered as the first
    assert again.status_code == 200, again.text
    assert again.json()["versions"] == ["1", "2"]

    assert (await second.delete("/models/iris/versions/2", headers=ADMIN)).status_code == 204
    await eventually(answers(first, "/models/iris/versions/2/predict", 404))


async def test_unload_and_load_reach_the_other_replica(
    replicas: list[httpx.AsyncClient],
) -> None:
    first, second = replicas
    await first.post("/v2/repository/models/iris/unload", headers=ADMIN)
    await eventually(answers(second, "/models/iris/predict", 404))
    await second.post("/v2/repository/models/iris/load", headers=ADMIN)
    await eventually(answers(first, "/models/iris/predict", 200))


async def test_a_replica_that_starts_later_keeps_an_unload(model_settings: Settings) -> None:
    async with serve_in_process(create_app(model_settings)) as first:
        await first.post("/v2/repository/models/iris/unload", headers=ADMIN)
        async with serve_in_process(create_app(model_settings)) as late:
            await eventually(answers(late, "/models/iris/predict", 404))
            index = (await late.post("/v2/repository/index", headers=ADMIN)).json()
    assert {"name": "iris", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"} in index


async def test_without_redis_uploads_install_but_unloads_say_503(
    store: Path, dead_redis_url: str
) -> None:
    settings = Settings(models_dir=store, redis_url=dead_redis_url)
    async with serve_in_process(create_app(settings)) as client:
        # The store carries an upload: the others find it when they next sync.
        archive = bundle_archive(bundle_files(store / "iris" / "1", "2"))
        assert (await upload(client, archive)).status_code == 201
        unloaded = await client.post("/v2/repository/models/iris/unload", headers=ADMIN)
        assert unloaded.status_code == 503
        assert unloaded.headers["Retry-After"] == "5"
        assert "retrying is safe" in unloaded.json()["error"]
        assert (await predict(client, "/models/iris/predict")).status_code == 404


async def test_work_a_crashed_replica_left_is_swept(store: Path, model_settings: Settings) -> None:
    stale, fresh = store / ".incoming" / ".stale", store / ".trash" / ".fresh"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "model.skops").write_bytes(b"half")
    an_hour_ago = time.time() - 2 * 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    async with serve_in_process(create_app(model_settings)):

        async def swept() -> bool:
            return not stale.exists()

        await eventually(swept)
    assert fresh.exists()
