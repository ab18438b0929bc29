"""Crafted uploads: each is refused with a 422 naming why and leaves the store as it was.

None of them is ever predicted with here: before the fix they installed (and the trees would
have crashed or hung the first predict, which test_hostile_bundles.py shows in a real process).
"""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from model_service.config import Settings
from model_service.main import create_app
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service import crafted
from tests.model_service.test_predict import CUSTOMER
from tests.model_service.test_repository import no_unloaded_flags, store_listing, upload

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags"]  # the autouse fixture applies here too
# The attack: 500k folder entries in 1 MiB of gzip. 100k show the same and cost less before the
# fix (each entry was admitted, and tarfile keeps every member it reads).
FOLDER_ENTRIES = 100_000


@pytest.fixture
async def service(model_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A replica over the demo store, default limits."""
    async with serve_in_process(create_app(model_settings)) as client:
        yield client


async def refused(client: httpx.AsyncClient, store: Path, archive: bytes) -> str:
    """Upload, expect 422 and an untouched store; return the detail."""
    before = store_listing(store)
    response = await upload(client, archive)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert store_listing(store) == before
    detail: str = response.json()["detail"]
    return detail


def skops_archive(name: str, model: bytes) -> bytes:
    """A bundle archive holding this skops model file."""
    return crafted.bundle_targz(
        {"manifest.json": crafted.manifest_for(name, model), "model.skops": model}
    )


def tree_archive(tmp_path: Path, edit: Callable[[np.ndarray], None]) -> bytes:
    folder = crafted.tree_bundle(tmp_path / "build", "bad-tree", edit)
    return skops_archive("bad-tree", (folder / "model.skops").read_bytes())


@pytest.mark.parametrize(
    "edit", [crafted.children_out_of_range, crafted.root_is_its_own_child], ids=["range", "loop"]
)
async def test_an_uploaded_tree_with_bad_links_is_refused(
    service: httpx.AsyncClient, store: Path, tmp_path: Path, edit: Callable[[np.ndarray], None]
) -> None:
    detail = await refused(service, store, tree_archive(tmp_path, edit))
    assert "points backwards or outside the tree" in detail


async def test_an_uploaded_encoder_with_a_wrong_width_is_refused(
    service: httpx.AsyncClient, store: Path
) -> None:
    model = crafted.narrow_one_hot_skops()
    colour = [{"name": "colour", "type": "category", "categories": ["a", "b", "c", "d"]}]
    manifest = crafted.manifest_for("colours", model, features=colour)
    archive = crafted.bundle_targz({"manifest.json": manifest, "model.skops": model})
    detail = await refused(service, store, archive)
    assert "_n_features_outs does not match" in detail


async def test_a_small_archive_holding_a_huge_array_is_refused(
    service: httpx.AsyncClient, store: Path
) -> None:
    archive = skops_archive("bomb", crafted.inflated_skops())
    assert len(archive) < 4096  # the attack's size: 3 KiB
    detail = await refused(service, store, archive)
    assert "unpacks to more than 268435456 bytes" in detail


async def test_an_archive_of_endless_folder_entries_is_refused(
    service: httpx.AsyncClient, store: Path
) -> None:
    model = sio.dumps(LogisticRegression().fit(crafted.ROWS, crafted.LABELS))
    files = {"manifest.json": crafted.manifest_for("folders", model), "model.skops": model}
    archive = crafted.bundle_targz(files, folder_entries=FOLDER_ENTRIES)
    detail = await refused(service, store, archive)
    assert "holds its folder twice" in detail


async def test_a_long_chain_of_pax_headers_is_refused(
    service: httpx.AsyncClient, store: Path
) -> None:
    detail = await refused(service, store, crafted.pax_chain_targz(5000))
    assert "not a readable .tar.gz (RecursionError)" in detail


async def test_a_type_servir_does_not_validate_is_refused_unless_listed(
    model_settings: Settings, store: Path
) -> None:
    # skops trusts scikit-learn's estimators by default; their contents are another matter.
    model = sio.dumps(GaussianNB().fit(crafted.ROWS, crafted.LABELS))
    archive = skops_archive("bayes", model)
    async with serve_in_process(create_app(model_settings)) as client:
        detail = await refused(client, store, archive)
    assert "GaussianNB is not a type Servir validates" in detail
    assert "MODEL_UNVALIDATED_TYPES" in detail
    listed = ["sklearn.naive_bayes.GaussianNB"]
    vouched = model_settings.model_copy(update={"unvalidated_types": listed})
    async with serve_in_process(create_app(vouched)) as client:
        assert (await upload(client, archive)).status_code == 201


async def test_an_upload_is_loaded_once_by_the_service(
    model_settings: Settings, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[int] = []
    real_loads = sio.loads

    def counting_loads(data: bytes, **options: Any) -> Any:
        loads.append(len(data))
        return real_loads(data, **options)

    # The verifying child is another process: only the serving load counts here. Churn serves
    # compiled by default, and a model served compiled is never loaded from skops here at all:
    # MODEL_RUNTIME=sklearn makes the serving process load it.
    model = (store / "churn" / "1" / "model.skops").read_bytes()
    manifest = (store / "churn" / "1" / "manifest.json").read_text()
    manifest = manifest.replace('"version": "1"', '"version": "2"')
    archive = crafted.bundle_targz({"manifest.json": manifest.encode(), "model.skops": model})
    forced = model_settings.model_copy(update={"runtime": "sklearn"})
    async with serve_in_process(create_app(forced)) as service:
        # Counted from here: the demo store's own loads at start are not the upload's.
        monkeypatch.setattr(sio, "loads", counting_loads)
        response = await upload(service, archive)
        assert response.status_code == 201, response.text
        assert loads == [len(model)]
        answer = await service.post(
            "/models/churn/versions/2/predict", json={"instances": [CUSTOMER]}, headers=INTERNAL
        )
        assert answer.status_code == 200, answer.text
