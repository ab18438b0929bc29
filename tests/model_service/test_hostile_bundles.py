"""Crafted model files in the store of a real model-service process.

Each once crashed or hung the service that loaded it; now it is refused at start (verified in a
child process first), logged, and the service stays up and serves the others. The service runs
as a process of its own so that, before the fix, the attack kills or hangs it, not pytest.
"""

import ctypes
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import INTERNAL
from tests.model_service import crafted
from tests.model_service.processes import spawn_model_service, wait_ready
from tests.model_service.test_repository import SETOSA

# Longer than a verified load and predict take; a hung inference overruns it.
ANSWER_SECONDS = 15.0


@pytest.fixture
def small_store(verified_demo_models: Path, tmp_path: Path) -> Path:
    """A store holding only iris (verified already, as after a first start)."""
    target = tmp_path / "models"
    shutil.copytree(verified_demo_models / "iris", target / "iris")
    shutil.copytree(verified_demo_models / ".verified", target / ".verified")
    return target


@contextmanager
def model_service(store: Path, redis_url: str, **env: str) -> Iterator[httpx.Client]:
    """A model-service process over `store`, once it answers /readyz; killed afterwards."""
    log = store.parent / "model-service.log"
    process, url = spawn_model_service(store, redis_url, log, **env)
    try:
        wait_ready(process, url, log)
        with httpx.Client(base_url=url, timeout=ANSWER_SECONDS) as client:
            yield client
            assert process.poll() is None, "the model-service died"
    finally:
        process.kill()
        process.wait()


def refused_and_others_serve(client: httpx.Client, name: str) -> str:
    """The crafted model answers 503 with its reason; iris still predicts; the reason."""
    row = {"a": 0.5, "b": 0.5}
    answer = client.post(f"/models/{name}/predict", json={"instances": [row]}, headers=INTERNAL)
    assert answer.status_code == 503, answer.text
    iris = client.post("/models/iris/predict", json={"instances": [SETOSA]}, headers=INTERNAL)
    assert iris.status_code == 200, iris.text
    reason: str = client.get("/readyz").json()["models"][f"{name}/1"]
    return reason


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (crafted.children_out_of_range, "points backwards or outside the tree"),
        (crafted.root_is_its_own_child, "points backwards or outside the tree"),
    ],
    ids=["children-out-of-range", "root-is-its-own-child"],
)
def test_a_tree_that_would_crash_or_hang_predict_is_refused_at_start(
    small_store: Path, redis_url: str, edit: Callable[[np.ndarray], None], reason: str
) -> None:
    crafted.tree_bundle(small_store, "bad-tree", edit)
    with model_service(small_store, redis_url) as client:
        assert reason in refused_and_others_serve(client, "bad-tree")


@pytest.mark.parametrize(
    ("payload", "env", "reason"),
    [
        ((ctypes.string_at, (0,)), {}, "verification crashed (SIGSEGV)"),
        ((time.sleep, (3600,)), {"MODEL_VERIFY_TIMEOUT_SECONDS": "2"}, "longer than 2 s"),
    ],
    ids=["crashes", "hangs"],
)
def test_a_bundle_that_crashes_or_hangs_its_loader_costs_only_the_child(
    small_store: Path, redis_url: str, payload: Any, env: dict[str, str], reason: str
) -> None:
    # Pickle runs code when loaded: the operator opted in, and the file is the manifest's.
    crafted.pickle_bundle(small_store, "bad-pickle", payload)
    with model_service(small_store, redis_url, MODEL_ALLOW_PICKLE="true", **env) as client:
        assert reason in refused_and_others_serve(client, "bad-pickle")
