"""Unpacking an uploaded bundle (.tar.gz) without trusting it.

The archive's names are never used as paths: each member must be one of the few file names a
bundle holds (at the top level or in one top folder) and is written to a file of that name in a
fresh folder. Links, devices, absolute or `..` paths, unknown names and nested folders are
refused. Sizes are bounded before they cost anything: the uncompressed stream, the sum of the
files, each metadata block tarfile reads into memory, and the number of entries (counted as
they arrive; the folder's own entry may come once), so a gzip bomb costs at most the limit in
disk and a small, fixed amount of memory and time.
"""

import gzip
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from pydantic import ValidationError

from model_service.errors import BadBundle, ContentTooLarge
from model_service.models.bundles import MANIFEST, PICKLE_FILES
from shared_schemas.manifest import Manifest

MODEL_FILES = frozenset({"model.skops", *PICKLE_FILES})
BUNDLE_FILES = frozenset({MANIFEST, *MODEL_FILES})
MANIFEST_BYTES = 1024 * 1024
# pax and GNU long-name blocks: tarfile reads each whole into memory.
METADATA_BYTES = 64 * 1024
METADATA_TYPES = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME}
    | {tarfile.GNUTYPE_LONGLINK}
)
# Headers, padding and the end-of-archive blocks around the files.
TAR_OVERHEAD_BYTES = 1024 * 1024
FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE})
KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a device",
    tarfile.BLKTYPE: "a device",
    tarfile.FIFOTYPE: "a FIFO",
}


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _BoundedReader:
    """The uncompressed stream, refused once it passes `limit` bytes."""

    def __init__(self, raw: _Readable, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        """Read at most `size` bytes (never more than one past the limit)."""
        room = self.limit + 1 - self.count
        data = self.raw.read(room if size < 0 else min(size, room))
        self.count += len(data)
        if self.count > self.limit:
            raise ContentTooLarge(f"The bundle expands past {self.limit} bytes.")
        return data


class _SafeTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized metadata blocks before tarfile reads them."""

    # tarfile documents _proc_member as the hook for subclasses.
    def _proc_member(self, tarfile: Any) -> Any:
        if self.type in METADATA_TYPES and self.size > METADATA_BYTES:
            raise BadBundle(f"The archive has a metadata block of {self.size} bytes.")
        return super()._proc_member(tarfile)  # type: ignore[misc]


class _Layout:
    """Admits members one by one: bundle files only, all in the same (top or one) folder."""

    def __init__(self, max_members: int) -> None:
        self.max_members = max_members
        self.members = 0
        self.folder: str | None = None
        self.folder_entry = False
        self.files: dict[str, int] = {}

    def admit(self, member: tarfile.TarInfo) -> str | None:
        """The file name to write the member to; None for the top folder's own entry."""
        # Counted as they arrive: 500k folder entries in 1 MiB of gzip once cost a minute.
        self.members += 1
        if self.members > self.max_members:
            raise BadBundle(f"The archive has more than {self.max_members} entries.")
        parts = _parts(member.name)
        if member.isdir():
            if len(parts) > 1:
                raise BadBundle(f"{member.name!r} is a nested folder; a bundle has none.")
            if self.folder_entry:
                raise BadBundle("The archive holds its folder twice.")
            self.folder_entry = True
            self._in_folder(parts[0] if parts else "")
            return None
        if member.type not in FILE_TYPES or member.sparse is not None:
            kind = KINDS.get(member.type, "not a regular file")
            raise BadBundle(f"{member.name!r} is {kind}; a bundle holds regular files only.")
        if len(parts) not in {1, 2}:
            raise BadBundle(f"{member.name!r} is nested too deep; a bundle has no subfolders.")
        self._in_folder(parts[0] if len(parts) == 2 else "")
        return self._file(member.name, parts[-1], member.size)

    def _in_folder(self, folder: str) -> None:
        if self.folder is None:
            self.folder = folder
        elif self.folder != folder:
            raise BadBundle("The archive's members lie in more than one folder.")

    def _file(self, member: str, name: str, size: int) -> str:
        if name not in BUNDLE_FILES:
            raise BadBundle(
                f"Unexpected member {member!r}: a bundle holds only {MANIFEST} and its model file."
            )
        if name in self.files:
            raise BadBundle(f"The archive holds {name} twice.")
        if name == MANIFEST and size > MANIFEST_BYTES:
            raise BadBundle(f"{MANIFEST} is larger than {MANIFEST_BYTES} bytes.")
        self.files[name] = size
        return name


def _parts(name: str) -> tuple[str, ...]:
    path = PurePosixPath(name)
    if path.is_absolute():
        raise BadBundle(f"{name!r} is an absolute path.")
    if ".." in path.parts:
        raise BadBundle(f"{name!r} points outside the bundle.")
    return path.parts


def unpack_bundle(archive: Path, into: Path, *, max_bytes: int, max_members: int) -> Manifest:
    """Write the bundle files of `archive` into the empty folder `into`; return its manifest.

    BadBundle (422) or ContentTooLarge (413) say why the archive was refused.
    """
    layout = _Layout(max_members)
    try:
        with gzip.open(archive, "rb") as unzipped:
            stream = _BoundedReader(unzipped, max_bytes + TAR_OVERHEAD_BYTES)
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_SafeTarInfo) as tar:  # type: ignore[call-overload]
                for member in tar:
                    _extract(tar, member, layout, into, max_bytes)
    # RecursionError: tarfile follows a chain of pax headers by recursion.
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, RecursionError) as exc:
        raise BadBundle(f"The upload is not a readable .tar.gz ({type(exc).__name__}).") from None
    return _bundle_manifest(into, set(layout.files))


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo, layout: _Layout, into: Path, max_bytes: int
) -> None:
    name = layout.admit(member)
    if name is None:
        return
    if sum(layout.files.values()) > max_bytes:
        raise ContentTooLarge(f"The bundle's files add up to more than {max_bytes} bytes.")
    source = tar.extractfile(member)
    if source is None:  # unreachable for a regular file; keeps the types honest
        raise BadBundle(f"{member.name!r} has no data.")
    # "x": never follow or overwrite anything already there.
    with source, (into / name).open("xb") as target:
        shutil.copyfileobj(source, target)


def _bundle_manifest(folder: Path, files: set[str]) -> Manifest:
    if MANIFEST not in files:
        raise BadBundle(f"The archive has no {MANIFEST}.")
    try:
        manifest = Manifest.model_validate_json((folder / MANIFEST).read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadBundle(f"{MANIFEST} is invalid at {where}: {first['msg']}.") from None
    if manifest.model_file not in files:
        raise BadBundle(f"The archive has no {manifest.model_file}, which {MANIFEST} names.")
    extra = files - {MANIFEST, manifest.model_file}
    if extra:
        raise BadBundle(
            f"The archive holds {', '.join(sorted(extra))}, which {MANIFEST} does not name."
        )
    return manifest
