"""The shared model store on disk: bundle folders installed and removed atomically.

Every replica reads the same `models_dir`. A bundle is unpacked and verified in a hidden
folder inside it (same filesystem), then `os.rename`d into `<name>/<version>` in one step, so
no replica ever sees half a bundle; removal renames it away first, then deletes. Hidden names
(a leading dot) keep the work folders out of every scan (`Registry.bundle_folders`).
"""

import hashlib
import re
import shutil
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from model_service.config import Settings
from model_service.errors import BadBundle, Conflict, NotFound
from model_service.models.bundles import MANIFEST
from model_service.models.verify import verify_bundles
from model_service.repository.tarballs import unpack_bundle
from shared_schemas.manifest import Manifest

INCOMING = ".incoming"
TRASH = ".trash"
# The patterns of shared_schemas.inference.ModelName/ModelVersion: a path segment that passes
# them cannot climb out of the store (`%2e%2e` reaches a route as `..`).
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VERSION = re.compile(r"^[1-9][0-9]{0,8}$")


@dataclass(frozen=True)
class StagedBundle:
    """An unpacked, test-loaded bundle waiting in its work folder to be installed."""

    name: str
    version: str
    folder: Path
    work: Path
    # The same bundle (manifest and model file, by sha256) is installed already: a retry.
    installed: bool = False


class ModelStore:
    """Bundle folders under `settings.models_dir`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.models_dir

    def folder(self, name: str, version: str) -> Path:
        """Where `name/version` lives (it may not exist); NotFound for names no bundle can have."""
        if not NAME.match(name) or not VERSION.match(version):
            raise NotFound(f"No model {name} version {version}.")
        return self.root / name / version

    def versions(self, name: str) -> list[str]:
        """The versions of `name` in the store, lowest first; [] when none."""
        if not NAME.match(name) or not (self.root / name).is_dir():
            return []
        found = [p.name for p in (self.root / name).iterdir() if p.is_dir()]
        return sorted((v for v in found if VERSION.match(v)), key=int)

    def incoming(self) -> Path:
        """The folder for uploads in progress (created when missing)."""
        return self._hidden(INCOMING)

    def _hidden(self, kind: str) -> Path:
        parent = self.root / kind
        parent.mkdir(parents=True, exist_ok=True)
        return parent

    def sweep(self, *, older_than: float) -> None:
        """Remove work a crashed replica left behind (uploads, deletions) past `older_than` s."""
        cutoff = time.time() - older_than
        for kind in (INCOMING, TRASH):
            folder = self.root / kind
            for entry in folder.iterdir() if folder.is_dir() else []:
                with suppress(OSError):
                    if entry.lstat().st_mtime >= cutoff:
                        continue  # maybe another replica's work in progress
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()

    def work_folder(self, kind: str = INCOMING) -> Path:
        """A fresh hidden folder under `.incoming` (or `.trash`) for one operation."""
        return Path(tempfile.mkdtemp(prefix=".", dir=self._hidden(kind)))

    def stage(self, archive: Path) -> StagedBundle:
        """Unpack and test-load an uploaded archive, then delete it (blocking: run it in a
        worker thread)."""
        try:
            work = self.work_folder()
            try:
                staged = self._stage(archive, work)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            if staged.installed:
                shutil.rmtree(work, ignore_errors=True)
            return staged
        finally:
            archive.unlink(missing_ok=True)

    def _stage(self, archive: Path, work: Path) -> StagedBundle:
        files = work / ".files"
        files.mkdir()
        manifest = unpack_bundle(
            archive,
            files,
            max_bytes=self.settings.max_bundle_bytes,
            max_members=self.settings.max_archive_members,
        )
        name, version = manifest.name, manifest.version
        if self._installed_already(files, name, version):
            return StagedBundle(name, version, self.folder(name, version), work, installed=True)
        # The verifying child's load_bundle checks the manifest against this `<name>/<version>`.
        folder = work / name / version
        folder.parent.mkdir()
        files.rename(folder)
        # Verified in a child (the pass is recorded); the serving load after install is the
        # only one in this process.
        reason = verify_bundles([folder], self.settings)[folder]
        if reason is not None:
            raise BadBundle(f"The bundle cannot load: {reason}.")
        folder.chmod(0o755)  # mkdtemp's 0700 would hide it from replicas running as others
        return StagedBundle(name=name, version=version, folder=folder, work=work)

    def _installed_already(self, files: Path, name: str, version: str) -> bool:
        """True when `name/version` holds these very files already (an upload retried after a
        timeout); Conflict when it holds others; False when it does not exist."""
        installed = self.folder(name, version)
        if not installed.exists():
            return False
        if not _same_bundle(files, installed):
            raise Conflict(f"Model {name} version {version} exists already, with other files.")
        return True

    def install(self, staged: StagedBundle) -> bool:
        """Move a staged bundle into place in one rename; False when the same bundle was
        installed meanwhile, Conflict when another one was."""
        target = self.folder(staged.name, staged.version)
        try:
            if self._installed_already(staged.folder, staged.name, staged.version):
                return False
            target.parent.mkdir(exist_ok=True)
            # A rename never merges: a concurrent upload of the same version fails here.
            staged.folder.rename(target)
        except OSError:
            if self._installed_already(staged.folder, staged.name, staged.version):
                return False
            raise
        finally:
            shutil.rmtree(staged.work, ignore_errors=True)
        return True

    def remove(self, name: str, version: str) -> None:
        """Delete a bundle folder: renamed out of sight first, so no scan sees it half gone."""
        target = self.folder(name, version)
        if not target.is_dir():
            raise NotFound(f"No model {name} version {version}.")
        trash = self.work_folder(TRASH)
        try:
            target.rename(trash / "bundle")
        finally:
            shutil.rmtree(trash, ignore_errors=True)


def _same_bundle(staged: Path, installed: Path) -> bool:
    """Whether both folders hold the same manifest.json and model file (by sha256)."""
    manifest = (staged / MANIFEST).read_bytes()
    if _digest(installed / MANIFEST) != hashlib.sha256(manifest).hexdigest():
        return False  # the manifest names the model file and its sha256: same manifest, same file
    model_file = Manifest.model_validate_json(manifest).model_file
    return _digest(staged / model_file) == _digest(installed / model_file)


def _digest(path: Path) -> str | None:
    """The sha256 of a file, read in chunks; None when it is missing."""
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except FileNotFoundError:
        return None
