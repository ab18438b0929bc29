"""Hostile model files, built the way an attacker would: real estimators, edited after fitting."""

import gzip
import hashlib
import io
import json
import pickle
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from model_service.demo_models import write_bundle

FEATURES = [
    {"name": "a", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "b", "type": "float", "min": 0.0, "max": 1.0},
]
ROWS = [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]
LABELS = ["no", "yes", "yes", "no"]
MANIFEST = {"task": "classification", "features": FEATURES, "classes": ["no", "yes"]}
ARRAY_BYTES = 512 * 1024 * 1024


def tree_bundle(store: Path, name: str, edit: Callable[[np.ndarray], None]) -> Path:
    """A fitted decision tree whose node array `edit` rewrote; its only non-default skops type is
    sklearn.tree._tree.Tree, which MODEL_ALLOWED_TYPES allows by default."""
    model = DecisionTreeClassifier(random_state=0).fit(ROWS, LABELS)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    edit(nodes)
    model.tree_.__setstate__({**state, "nodes": nodes})
    return write_bundle(store, name=name, estimator=model, manifest=MANIFEST)


def children_out_of_range(nodes: np.ndarray) -> None:
    """The root's children point far past the node array (segfaulted the service)."""
    nodes["left_child"][0] = 10**9
    nodes["right_child"][0] = 10**9


def root_is_its_own_child(nodes: np.ndarray) -> None:
    """The root's children are the root (hung an inference thread forever)."""
    nodes["left_child"][0] = 0
    nodes["right_child"][0] = 0


def narrow_one_hot_skops() -> bytes:
    """A one-hot-encoding pipeline whose encoder claims one output column for four categories:
    its sparse matrix then indexes past its width, and making it dense corrupted the heap."""
    colours = np.array([["a"], ["b"], ["c"], ["d"]])
    model = make_pipeline(OneHotEncoder(sparse_output=False), LogisticRegression())
    model.fit(colours, LABELS)
    model.steps[0][1]._n_features_outs = [1]
    data: bytes = sio.dumps(model)
    return data


def estimator_bundle(store: Path, name: str, estimator: Any) -> Path:
    """`estimator` saved as a skops bundle over the two features."""
    return write_bundle(store, name=name, estimator=estimator, manifest=MANIFEST)


def pickle_bundle(store: Path, name: str, payload: Any) -> Path:
    """A joblib bundle whose unpickling calls `payload` (a (callable, args) pair)."""

    class Payload:
        def __reduce__(self) -> Any:
            return payload

    folder = store / name / "1"
    folder.mkdir(parents=True)
    data = pickle.dumps(Payload())
    (folder / "model.joblib").write_bytes(data)
    manifest = {"name": name, "version": "1", **MANIFEST, "model_file": "model.joblib"}
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def inflated_skops(array_bytes: int = ARRAY_BYTES) -> bytes:
    """A skops file of a LogisticRegression whose extra attribute is `array_bytes` of zeros,
    deflated (a few hundred KiB; the zeros are streamed, never held in memory here)."""
    model = LogisticRegression().fit(ROWS, LABELS)
    model.padding_ = np.zeros(1)
    small = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    schema = json.loads(small.read("schema.json"))
    padding = schema["content"]["content"]["padding_"]["file"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as big:
        for info in small.infolist():
            if info.filename != padding:
                big.writestr(info.filename, small.read(info.filename))
        with big.open(padding, "w", force_zip64=True) as member:
            _write_zeros_npy(member, array_bytes)
    return out.getvalue()


def _write_zeros_npy(out: Any, size: int) -> None:
    header = {"descr": "<f8", "fortran_order": False, "shape": (size // 8,)}
    np.lib.format.write_array_header_1_0(out, header)
    chunk = bytes(1024 * 1024)
    for _ in range(size // len(chunk)):
        out.write(chunk)


def bundle_targz(files: dict[str, bytes], *, folder_entries: int = 0) -> bytes:
    """A gzipped tar of `files`, after `folder_entries` entries for the same folder (`./`)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as zipped:
        folder = tarfile.TarInfo("./")
        folder.type = tarfile.DIRTYPE
        block = folder.tobuf(format=tarfile.USTAR_FORMAT)
        for _ in range(folder_entries // 1000):
            zipped.write(block * 1000)
        with tarfile.open(fileobj=zipped, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def manifest_for(name: str, model: bytes, **extra: Any) -> bytes:
    """The manifest of a skops bundle `name` version 1 holding `model`."""
    body = {"name": name, "version": "1", **MANIFEST, **extra}
    body["sha256"] = hashlib.sha256(model).hexdigest()
    body.setdefault("trusted_types", sio.get_untrusted_types(data=model))
    return json.dumps(body).encode()


def pax_chain_targz(headers: int) -> bytes:
    """A tar.gz of `headers` pax headers in a row before one member: tarfile follows such a
    chain by recursion."""
    out = io.BytesIO()
    record = b"18 comment=hello\n"
    for index in range(headers):
        info = tarfile.TarInfo(f"pax{index}")
        info.type = tarfile.XHDTYPE
        info.size = len(record)
        out.write(info.tobuf(format=tarfile.USTAR_FORMAT))
        out.write(record.ljust(tarfile.BLOCKSIZE, b"\0"))
    out.write(tarfile.TarInfo("manifest.json").tobuf(format=tarfile.USTAR_FORMAT))
    out.write(bytes(2 * tarfile.BLOCKSIZE))
    return gzip.compress(out.getvalue())
