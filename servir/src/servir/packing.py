"""`pack`: a bundle folder as the flat .tar.gz the upload takes (manifest.json and the model
file at the top level, regular files only).

The archive is deterministic (sorted, mtime 0, owner 0, fixed modes, no gzip name or time),
so the same bundle packs to the same bytes: the service takes a re-upload of identical bytes
as a retry, not as a conflict. Standard library only, so a client-only install can push.
"""

import gzip
import io
import json
import tarfile
from pathlib import Path

from servir.errors import BundleError

MANIFEST = "manifest.json"
DEFAULT_MODEL_FILE = "model.skops"
MODEL_FILES = frozenset({"model.skops", "model.joblib", "model.pkl"})
FILE_MODE = 0o644
GZIP_LEVEL = 9


def bundle_files(folder: Path) -> list[Path]:
    """The files an upload of `folder` carries: its manifest and the model file it names."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise BundleError(f"{folder} has no {MANIFEST}: it is not a bundle folder")
    try:
        body = json.loads(manifest.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise BundleError(f"{manifest} is not valid JSON") from None
    model_file = body.get("model_file", DEFAULT_MODEL_FILE) if isinstance(body, dict) else None
    if model_file not in MODEL_FILES:
        raise BundleError(f"{manifest} names no model file Servir knows ({model_file!r})")
    model = folder / model_file
    if not model.is_file():
        raise BundleError(f"{folder} has no {model_file}, which {MANIFEST} names")
    return sorted([manifest, model], key=lambda path: path.name)


def pack(folder: str | Path) -> bytes:
    """The .tar.gz of the bundle in `folder`, the same bytes for the same files."""
    files = bundle_files(Path(folder))
    buffer = io.BytesIO()
    # filename="" and mtime=0: the gzip header carries neither a name nor a time.
    with (
        gzip.GzipFile(
            filename="", mode="wb", fileobj=buffer, compresslevel=GZIP_LEVEL, mtime=0
        ) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for path in files:
            data = path.read_bytes()
            tar.addfile(_member(path.name, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info
