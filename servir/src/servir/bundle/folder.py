"""Where a bundle is written: a staging folder beside the target, moved into place only once
the bundle checks out, so a failed save leaves nothing behind and a half-written bundle is
never where the service (or a copy) would pick it up."""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servir.errors import BundleError
from shared_schemas.manifest import FLAVOR_FILES

MANIFEST = "manifest.json"
# What a bundle folder holds; overwrite=True replaces these and nothing else.
BUNDLE_FILES = frozenset({MANIFEST}).union(*FLAVOR_FILES.values())


def check_target(target: Path, *, overwrite: bool) -> None:
    """Refuse a target that is a file, or a non-empty folder unless `overwrite` (and then only
    one that holds nothing but a bundle's files)."""
    if target.exists() and not target.is_dir():
        raise BundleError(f"{target} exists and is not a folder")
    if not target.is_dir():
        return
    present = {entry.name for entry in target.iterdir()}
    if present and not overwrite:
        raise BundleError(f"{target} is not empty; pass overwrite=True to replace the bundle there")
    foreign = sorted(present - BUNDLE_FILES)
    if foreign:
        raise BundleError(
            f"{target} holds files that are not a bundle's ({', '.join(foreign)}); not replacing it"
        )


@contextmanager
def staging(target: Path) -> Iterator[Path]:
    """A fresh folder beside `target` (parents made as needed); on an error it is removed with
    the parents it made."""
    made = _missing_parents(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A leading dot and no version number: the service never takes it for a bundle.
    folder = target.parent / f".{target.name}.saving-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        for parent in made:  # deepest first; only the ones this save made, if still empty
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        raise


def publish(folder: Path, target: Path) -> None:
    """Move the staged bundle to `target`: in one rename when it does not exist, else file by
    file, the model before the manifest, then the old bundle's other files removed."""
    if not target.exists():
        folder.rename(target)
        return
    written = sorted(entry.name for entry in folder.iterdir())
    for name in sorted(written, key=lambda name: name == MANIFEST):
        os.replace(folder / name, target / name)
    folder.rmdir()
    for stale in BUNDLE_FILES - set(written):
        (target / stale).unlink(missing_ok=True)


def _missing_parents(target: Path) -> list[Path]:
    missing = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing
