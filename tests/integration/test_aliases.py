"""Two model-service processes over one store and one Redis (issue 13, items 4 and 6): moving
the production alias through one reaches the other within a second, and a bundle copied into
the store by hand serves on both without a restart, taking no traffic by itself. The tests own
both processes."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from model_service import redis_keys
from tests.conftest import INTERNAL
from tests.integration.test_replicas import replicas
from tests.model_service.test_repository import SETOSA, bundle_archive, bundle_files

pytestmark = pytest.mark.integration
__all__ = ["replicas"]  # the fixture used here
ADMIN = {**INTERNAL, "X-Servir-Principal": "alice"}
FOLLOW_SECONDS = 1.0
# A bundle dropped by hand is verified in a child process (scikit-learn's import) first.
LOAD_SECONDS = 120.0


@pytest.fixture(autouse=True)
def no_aliases(redis_url: str) -> Iterator[None]:
    """The replicas share the session's Redis: start and end without aliases."""
    client = redis.Redis.from_url(redis_url)
    client.delete(redis_keys.ALIASES, redis_keys.ALIASES_PUBLIC)
    yield
    client.delete(redis_keys.ALIASES, redis_keys.ALIASES_PUBLIC)
    client.close()


def served(url: str, path: str = "/models/iris/predict") -> str | None:
    """The version an iris prediction at `path` answers with; None when it does not."""
    response = httpx.post(f"{url}{path}", json={"instances": [SETOSA]}, headers=INTERNAL)
    return response.json()["version"] if response.status_code == 200 else None


def eventually(url: str, path: str, version: str, seconds: float) -> None:
    """Wait until `path` answers with `version`, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while served(url, path) != version:
        assert time.monotonic() < deadline, f"{url}{path} did not answer version {version}"
        time.sleep(0.05)


def test_production_moves_on_every_replica_and_a_dropped_bundle_serves(
    replicas: list[str], tmp_path: Path
) -> None:
    first, second = replicas
    store = tmp_path / "models"  # the replicas' store (their fixture's)
    archive = bundle_archive(bundle_files(store / "iris" / "1", "2"))
    files = {"bundle": ("iris-2.tar.gz", archive, "application/gzip")}
    created = httpx.post(f"{first}/models", files=files, headers=ADMIN, timeout=60)
    assert created.status_code == 201, created.text
    eventually(second, "/models/iris/versions/2/predict", "2", LOAD_SECONDS)
    assert served(first) == served(second) == "1"

    body = {"version": "2"}
    moved = httpx.put(f"{first}/models/iris/aliases/production", json=body, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    assert served(first) == "2"
    eventually(second, "/models/iris/predict", "2", FOLLOW_SECONDS)

    dropped = bundle_files(store / "iris" / "1", "3")
    folder = store / "iris" / "3"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(dropped["manifest.json"])
    (folder / "model.skops").write_bytes(dropped["model.skops"][:1000])
    (folder / "model.skops").write_bytes(dropped["model.skops"])
    for url in replicas:
        eventually(url, "/models/iris/versions/3/predict", "3", LOAD_SECONDS)
        described = httpx.get(f"{url}/models/iris", headers=INTERNAL).json()
        assert (described["default_version"], described["aliases"]) == ("2", {"production": "2"})
        assert described["versions"] == ["1", "2", "3"]
