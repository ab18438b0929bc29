"""Which versions the batch queue may predict inline on the event loop (issue 14, item 4): only
a model whose structure was validated throughout and whose one-row canary, timed by the
verifying child on the runtime that serves it, ran under MODEL_INLINE_MAX_MICROSECONDS."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from model_service.config import Settings
from model_service.demo_models import breast_cancer, iris, write_bundle
from model_service.deps import state_of
from model_service.main import create_app
from model_service.models import verify
from tests.conftest import serve_in_process

pytestmark = pytest.mark.anyio
KERNEL_RIDGE = "sklearn.kernel_ridge.KernelRidge"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models: Path = tmp_path_factory.mktemp("inline") / "models"
    iris(models)
    breast_cancer(models)
    folders = sorted(p for p in models.glob("*/*") if p.is_dir())
    assert set(verify.verify_bundles(folders, Settings(models_dir=models)).values()) == {None}
    return models


async def inline_choices(store: Path, redis_url: str, **settings: object) -> dict[str, bool]:
    app = create_app(Settings(models_dir=store, redis_url=redis_url, **settings))  # type: ignore[arg-type]
    async with serve_in_process(app):
        models = state_of(app).registry.models
        return {name: versions["1"].queue.inline_allowed for name, versions in models.items()}


async def test_compiled_models_under_the_threshold_run_inline(store: Path, redis_url: str) -> None:
    # Compiled, both predict one row in microseconds; a generous threshold admits both.
    choices = await inline_choices(store, redis_url, inline_max_microseconds=5000)
    assert choices == {"iris": True, "breast-cancer": True}


async def test_a_slow_model_stays_in_the_pool(store: Path, redis_url: str) -> None:
    # On scikit-learn the forest costs milliseconds a row: never inline at the default.
    choices = await inline_choices(store, redis_url, runtime="sklearn")
    assert choices["breast-cancer"] is False


async def test_a_threshold_of_zero_turns_inline_off(store: Path, redis_url: str) -> None:
    choices = await inline_choices(store, redis_url, inline_max_microseconds=0)
    assert choices == {"iris": False, "breast-cancer": False}


async def test_a_model_only_vouched_for_never_runs_inline(tmp_path: Path, redis_url: str) -> None:
    # A type listed in MODEL_UNVALIDATED_TYPES was not checked: an inline call of it could hang
    # the event loop, which no deadline interrupts. A small kernel ridge predicts in microseconds.
    rows = np.random.default_rng(0).uniform(0, 1, (20, 2))
    features = [{"name": n, "type": "float"} for n in ("a", "b")]
    ridge = KernelRidge().fit(rows, rows.sum(axis=1))
    store = tmp_path / "models"
    write_bundle(
        store, name="ridge", estimator=ridge, manifest={"task": "regression", "features": features}
    )
    choices = await inline_choices(
        store, redis_url, inline_max_microseconds=100_000, unvalidated_types=[KERNEL_RIDGE]
    )
    assert choices == {"ridge": False}
