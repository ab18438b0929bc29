"""Bundles dropped in the store by hand (cp, rsync, a mounted volume): loaded once whole.

A copy writes a folder file by file, so a scan may see it half done. A folder is whole when
`manifest.json` parses and names this folder, and the model file's sha256 matches it. One that
is not is left alone (no failure recorded: it may still be copying) and checked again at the
next scan; once nothing in it has changed for MODEL_PICKUP_GRACE_SECONDS it is loaded anyway,
so that it fails with its reason like any bad bundle (in /readyz and the repository index).
Uploads never pass here half done: they are installed by one rename.
"""

import hashlib
import time
from pathlib import Path

from model_service.models.bundles import BundleError, read_manifest

Signature = tuple[tuple[str, int, int], ...]


def incomplete(folder: Path) -> str | None:
    """Why `folder` is not (yet) a whole bundle, or None when it is (blocking: hashes)."""
    try:
        manifest = read_manifest(folder)
    except BundleError as exc:
        return str(exc)
    path = folder / manifest.model_file
    try:
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return f"{manifest.model_file} is missing"
    if digest != manifest.sha256:
        return f"sha256 of {manifest.model_file} does not match the manifest"
    return None


def signature(folder: Path) -> Signature:
    """What changes when a copy writes into `folder`: each entry's name, size and mtime."""
    entries = [folder, *sorted(folder.iterdir())] if folder.is_dir() else []
    found = []
    for entry in entries:
        try:
            status = entry.stat()
        except OSError:
            continue  # removed meanwhile
        found.append((entry.name, status.st_size, status.st_mtime_ns))
    return tuple(found)


def unchanged_for(sign: Signature) -> float:
    """Seconds since anything in the folder last changed."""
    newest = max((mtime for _, _, mtime in sign), default=0)
    return time.time() - newest / 1e9


def arriving(folder: Path, grace_seconds: float) -> bool:
    """Incomplete and changed within the grace period: maybe still being copied."""
    return unchanged_for(signature(folder)) <= grace_seconds and incomplete(folder) is not None


class Arrivals:
    """The folders this replica saw incomplete, with why; re-hashed only once they change."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.waiting: dict[Path, tuple[Signature, str]] = {}

    def ready(self, folder: Path) -> bool:
        """Whether to load `folder` now: whole, or unchanged past the grace period (blocking)."""
        sign = signature(folder)
        seen = self.waiting.get(folder)
        reason = seen[1] if seen is not None and seen[0] == sign else incomplete(folder)
        if reason is None or unchanged_for(sign) > self.grace_seconds:
            self.waiting.pop(folder, None)
            return True
        self.waiting[folder] = (sign, reason)
        return False

    def reason(self, folder: Path) -> str | None:
        """Why a folder waits, for the repository index; None when it does not."""
        seen = self.waiting.get(folder)
        return f"arriving, not loaded yet: {seen[1]}" if seen is not None else None

    def forget_missing(self) -> None:
        """Drop folders that are gone (removed before they were whole)."""
        for folder in [f for f in self.waiting if not f.is_dir()]:
            del self.waiting[folder]
