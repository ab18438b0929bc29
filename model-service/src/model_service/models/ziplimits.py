"""The skops file's zip directory, read and bounded before anything is unpacked.

A skops file is a zip of arrays: a few KiB can declare gigabytes (a 3 KiB upload once held a
512 MiB array). The end-of-directory record is read first, so the directory itself cannot cost
much to parse; then every entry's declared size is summed and its ratio checked. zipfile never
unpacks more than an entry declares, so these sums bound what loading can allocate.
"""

import io
import zipfile

END_RECORD = b"PK\x05\x06"
END_RECORD_BYTES = 22
# Central directory entry: 46 fixed bytes plus a name; skops names are short.
DIRECTORY_ENTRY_BYTES = 46 + 466
ZIP64_MARKER = 0xFFFF
# Tiny entries (schema.json) compress far better than arrays; only the large ones are judged.
RATIO_FLOOR_BYTES = 64 * 1024


class ZipLimitError(ValueError):
    """The zip declares more than the limits allow, or is no zip."""


def _end_record(data: bytes) -> tuple[int, int]:
    """The directory's entry count and byte size, as the end record declares them."""
    tail = data[-(END_RECORD_BYTES + 0xFFFF) :]
    at = tail.rfind(END_RECORD)
    if at < 0 or len(tail) - at < END_RECORD_BYTES:
        raise ZipLimitError("the model file is not a zip archive")
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    size = int.from_bytes(tail[at + 12 : at + 16], "little")
    if entries == ZIP64_MARKER:
        raise ZipLimitError("the model file is a zip64 archive, which is not accepted")
    return entries, size


def check_zip_directory(data: bytes, *, max_members: int, max_bytes: int, max_ratio: float) -> None:
    """Raise ZipLimitError unless `data`'s zip stays within the limits (nothing is unpacked)."""
    entries, size = _end_record(data)
    if entries > max_members or size > max_members * DIRECTORY_ENTRY_BYTES:
        raise ZipLimitError(f"the model file has more than {max_members} entries")
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ZipLimitError(
            f"the model file is not a readable zip ({type(exc).__name__})"
        ) from None
    if len(members) > max_members:
        raise ZipLimitError(f"the model file has more than {max_members} entries")
    if len({member.filename for member in members}) != len(members):
        raise ZipLimitError("the model file holds an entry twice")
    if sum(member.file_size for member in members) > max_bytes:
        raise ZipLimitError(f"the model file unpacks to more than {max_bytes} bytes")
    for member in members:
        packed = max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR_BYTES and member.file_size / packed > max_ratio:
            raise ZipLimitError(
                f"{member.filename} unpacks {member.file_size // packed} times its size "
                f"(more than {max_ratio:g})"
            )
