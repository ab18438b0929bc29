"""Loading rules: checksum first, skops with vetted types only, pickle refused by default; a bad
bundle is reported and never takes the others down."""

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from model_service.config import Settings
from model_service.main import create_app
from model_service.models.bundles import BundleError, load_bundle
from tests.conftest import INTERNAL, serve_in_process
from tests.model_service.test_repository import settled

pytestmark = pytest.mark.anyio


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_demo_bundles_load(store: Path, model_settings: Settings) -> None:
    for name in ("iris", "breast-cancer", "churn"):
        bundle = load_bundle(store / name / "1", model_settings)
        assert bundle.manifest.name == name


def test_tampered_model_file_is_refused(store: Path, model_settings: Settings) -> None:
    with (store / "iris" / "1" / "model.skops").open("ab") as file:
        file.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(store / "iris" / "1", model_settings)


def test_untrusted_type_not_in_manifest_is_refused(store: Path, model_settings: Settings) -> None:
    edit_manifest(store / "breast-cancer" / "1", trusted_types=[])
    with pytest.raises(
        BundleError, match=r"not listed in the manifest: sklearn\.tree\._tree\.Tree"
    ):
        load_bundle(store / "breast-cancer" / "1", model_settings)


def test_untrusted_type_not_allowed_by_the_operator_is_refused(
    store: Path, model_settings: Settings
) -> None:
    strict = model_settings.model_copy(update={"allowed_types": []})
    with pytest.raises(BundleError, match="not allowed by MODEL_ALLOWED_TYPES"):
        load_bundle(store / "breast-cancer" / "1", strict)


def pickle_bundle(store: Path) -> Path:
    folder = store / "pickled" / "1"
    folder.mkdir(parents=True)
    data = pickle.dumps(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    (folder / "model.pkl").write_bytes(data)
    manifest = json.loads((store / "iris" / "1" / "manifest.json").read_text())
    manifest.update(
        name="pickled",
        model_file="model.pkl",
        sha256=hashlib.sha256(data).hexdigest(),
        features=[{"name": "x", "type": "float"}],
        training_stats=None,
        classes=[0, 1],
        examples=[],  # iris's, for other features
    )
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_pickle_is_refused_unless_the_operator_allows_it(
    store: Path, model_settings: Settings
) -> None:
    folder = pickle_bundle(store)
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(folder, model_settings)
    allowed = model_settings.model_copy(update={"allow_pickle": True})
    assert load_bundle(folder, allowed).manifest.name == "pickled"
    (folder / "model.pkl").write_bytes(pickle.dumps({"evil": True}))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(folder, allowed)


def test_skops_file_with_a_foreign_type_is_refused(store: Path, model_settings: Settings) -> None:
    folder = store / "iris" / "1"
    sio.dump({"model": LogisticRegression(), "callable": hashlib.sha256}, folder / "model.skops")
    data = (folder / "model.skops").read_bytes()
    edit_manifest(folder, sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(BundleError, match="untrusted types"):
        load_bundle(folder, model_settings)


async def test_a_bad_bundle_is_reported_and_the_others_serve(
    store: Path, model_settings: Settings
) -> None:
    with (store / "iris" / "1" / "model.skops").open("ab") as file:
        file.write(b"tampered")
    settled(store / "iris" / "1")
    async with serve_in_process(create_app(model_settings)) as client:
        ready = (await client.get("/readyz")).json()
        listed = (await client.get("/models", headers=INTERNAL)).json()
        iris = await client.post("/models/iris/predict", json={"instances": [{}]}, headers=INTERNAL)
    assert ready["status"] == "degraded"
    assert ready["models"]["iris/1"].startswith("sha256 of model.skops does not match")
    assert ready["models"]["churn/1"] == "ready"
    assert [model["name"] for model in listed] == ["breast-cancer", "churn"]
    assert iris.status_code == 503
    assert "sha256" in iris.json()["detail"]


async def test_invalid_manifest_is_reported(store: Path, model_settings: Settings) -> None:
    (store / "churn" / "1" / "manifest.json").write_text('{"name": "churn"}')
    settled(store / "churn" / "1")
    async with serve_in_process(create_app(model_settings)) as client:
        ready: dict[str, object] = (await client.get("/readyz")).json()
    models = ready["models"]
    assert isinstance(models, dict)
    assert models["churn/1"].startswith("manifest.json is invalid")
