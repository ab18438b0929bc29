"""Bundles a user drops in `models/` on the host, imported into the shared store.

In containers the store is a volume shared by every replica; the host's `models/` is mounted
read-only at MODEL_IMPORT_DIR. A bundle folder the store lacks is copied in through a work
folder and one rename (so no replica ever sees half a copy); it is verified when it loads.
At start every such folder is imported; while the service runs (`NewImports`, each watch),
only folders that appeared since, once whole (arrivals.py): a version an admin deleted from
the store stays deleted until the next start.
"""

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from model_service.errors import NotFound
from model_service.repository.arrivals import Arrivals
from model_service.repository.store import ModelStore

logger = logging.getLogger("servir.models")


def _folders(source: Path, store: ModelStore) -> Iterator[tuple[str, Path, Path]]:
    """Each bundle-like folder of `source`: its key, itself and its place in the store."""
    for folder in sorted(source.glob("*/*")) if source.is_dir() else []:
        if not folder.is_dir() or folder.is_symlink() or not (folder / "manifest.json").is_file():
            continue
        try:
            target = store.folder(folder.parent.name, folder.name)
        except NotFound:
            continue  # not a name a bundle can have
        yield f"{folder.parent.name}/{folder.name}", folder, target


def _copy_in(folder: Path, target: Path, store: ModelStore) -> bool:
    """Copy a folder into the store in one rename; False when another replica was first."""
    work = store.work_folder()
    # copy2 keeps the files' times: an incomplete bundle is no fresher in the store.
    shutil.copytree(folder, work / "bundle", symlinks=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(work / "bundle", target)
    except OSError:
        return False  # another replica imported it first
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return True


def _logged(imported: list[str], source: Path) -> list[str]:
    if imported:
        logger.info("bundles imported", extra={"bundles": imported, "source": str(source)})
    return imported


def import_bundles(*, source: Path, store: ModelStore) -> list[str]:
    """Copy every `<name>/<version>` folder of `source` that the store lacks (and that is not
    still being copied there); their keys."""
    arrivals = Arrivals(store.settings.pickup_grace_seconds)
    imported = [
        key
        for key, folder, target in _folders(source, store)
        if not target.exists() and arrivals.ready(folder) and _copy_in(folder, target, store)
    ]
    return _logged(imported, source)


class NewImports:
    """The bundle folders that appear in `source` while the service runs (blocking: run each
    step in a worker thread)."""

    def __init__(self, *, source: Path, store: ModelStore) -> None:
        self.source = source
        self.store = store
        self.arrivals = Arrivals(store.settings.pickup_grace_seconds)
        # What the start imported (or the store had): never again, so a delete holds.
        self.seen = {key for key, _, target in _folders(source, store) if target.exists()}

    def scan(self) -> list[str]:
        """Copy in the new folders that are whole (or stuck past the grace period)."""
        self.arrivals.forget_missing()
        imported = []
        for key, folder, target in _folders(self.source, self.store):
            if key in self.seen:
                continue
            if not target.exists():
                if not self.arrivals.ready(folder):
                    continue
                if _copy_in(folder, target, self.store):
                    imported.append(key)
            self.seen.add(key)
        return _logged(imported, self.source)
