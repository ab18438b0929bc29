"""Bundles a user drops in `models/` on the host, imported into the shared store at start.

In containers the store is a volume shared by every replica; the host's `models/` is mounted
read-only at MODEL_IMPORT_DIR. A bundle folder the store lacks is copied in through a work
folder and one rename (so no replica ever sees half a copy); it is verified when it loads.
"""

import logging
import os
import shutil
from pathlib import Path

from model_service.errors import NotFound
from model_service.repository.store import ModelStore

logger = logging.getLogger("servir.models")


def import_bundles(*, source: Path, store: ModelStore) -> list[str]:
    """Copy every `<name>/<version>` folder of `source` that the store lacks; their keys."""
    imported: list[str] = []
    for folder in sorted(source.glob("*/*")) if source.is_dir() else []:
        if not folder.is_dir() or folder.is_symlink() or not (folder / "manifest.json").is_file():
            continue
        try:
            target = store.folder(folder.parent.name, folder.name)
        except NotFound:
            continue  # not a name a bundle can have
        if target.exists():
            continue
        work = store.work_folder()
        shutil.copytree(folder, work / "bundle", symlinks=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(work / "bundle", target)
        except OSError:
            continue  # another replica imported it first
        finally:
            shutil.rmtree(work, ignore_errors=True)
        imported.append(f"{folder.parent.name}/{folder.name}")
    if imported:
        logger.info("bundles imported", extra={"bundles": imported, "source": str(source)})
    return imported
