"""servir.packing.pack: a bundle folder as the flat .tar.gz the upload takes, the same bytes for
the same bundle, unpacked by the model-service's own upload code."""

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from model_service.repository.tarballs import unpack_bundle
from servir.bundle import save_model
from servir.errors import BundleError
from servir.packing import pack


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    data = np.arange(16, dtype=float).reshape(8, 2)
    model = LogisticRegression().fit(data, [0, 1] * 4)
    return save_model(model, tmp_path / "lineal" / "1", sample=data, name="lineal")


def test_the_same_bundle_packs_to_the_same_bytes(bundle: Path) -> None:
    first = pack(bundle)
    for path in bundle.iterdir():
        os.utime(path, (1_700_000_000, 1_700_000_000))
    os.chmod(bundle / "model.skops", 0o600)

    assert pack(bundle) == first
    assert gzip.decompress(first)  # a plain gzip stream
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["manifest.json", "model.skops"]
    assert all(m.isreg() and m.mtime == 0 and m.uid == m.gid == 0 for m in members)
    assert all(m.uname == m.gname == "" and m.mode == 0o644 for m in members)


def test_the_service_unpacks_it(bundle: Path, tmp_path: Path) -> None:
    archive = tmp_path / "upload.tar.gz"
    archive.write_bytes(pack(bundle))
    into = tmp_path / "unpacked"
    into.mkdir()

    manifest = unpack_bundle(archive, into, max_bytes=10 * 1024 * 1024, max_members=16)

    assert (manifest.name, manifest.version) == ("lineal", "1")
    for name in ("manifest.json", "model.skops"):
        assert (into / name).read_bytes() == (bundle / name).read_bytes()


def test_only_the_bundle_files_are_packed(bundle: Path) -> None:
    (bundle / "notes.txt").write_text("not part of the bundle")
    with tarfile.open(fileobj=io.BytesIO(pack(bundle)), mode="r:gz") as tar:
        assert tar.getnames() == ["manifest.json", "model.skops"]


def test_a_folder_that_is_not_a_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"has no manifest\.json"):
        pack(tmp_path)
    (bundle / "model.skops").unlink()
    with pytest.raises(BundleError, match=r"has no model\.skops, which manifest\.json names"):
        pack(bundle)
    body = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**body, "model_file": "../x"}))
    with pytest.raises(BundleError, match="names no model file Servir knows"):
        pack(bundle)
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        pack(bundle)
