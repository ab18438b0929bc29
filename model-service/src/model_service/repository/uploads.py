"""Receiving a bundle upload: the multipart body streamed to a file, never held in memory.

Starlette's own form parsing bounds fields but not files, and would spool the whole body before
the route sees it; this parser counts every byte as it arrives and stops at the limit.
"""

import os
import tempfile
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from model_service.errors import ContentTooLarge, InvalidInput
from servir_runtime.bodies import byte_count
from servir_runtime.problems import ServiceError
from shared_schemas.problems import FieldError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FIELD = "bundle"
ENVELOPE_BYTES = 64 * 1024  # boundaries and part headers around the file
FLUSH_BYTES = 1024 * 1024  # buffered bytes are written to disk in a worker thread


class UnsupportedMediaType(ServiceError):
    """The upload is not multipart/form-data."""

    status = 415
    title = "Unsupported Media Type"


class MalformedBody(ServiceError):
    """The multipart body cannot be parsed."""

    status = 400
    title = "Bad Request"


class _BundlePart:
    """Multipart parser callbacks: buffer the `bundle` part's bytes, skip any other part."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = bytearray()
        self.size = 0
        self.found = False
        self.ended = False
        self.active = False
        self._field = bytearray()
        self._value = bytearray()
        self._disposition = b""

    def callbacks(self) -> "MultipartCallbacks":
        """The parser's callbacks, bound to this part."""
        return {
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _header_end(self) -> None:
        if bytes(self._field).lower() == b"content-disposition":
            self._disposition = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._disposition = b""
        self.active = options.get(b"name") == FIELD.encode()
        if self.active and self.found:
            raise InvalidInput(f"Send one `{FIELD}` part.", errors=[_field_error("duplicate")])
        self.found = self.found or self.active

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self.active:
            return
        self.size += end - start
        if self.size > self.limit:
            raise ContentTooLarge(f"The bundle is larger than {self.limit} bytes.")
        self.buffer.extend(data[start:end])

    def _part_end(self) -> None:
        self.active = False

    def _end(self) -> None:
        self.ended = True


def _field_error(kind: str) -> FieldError:
    messages = {"missing": "Field required", "duplicate": "Field given more than once"}
    return FieldError(loc=["body", FIELD], msg=messages[kind], type=kind)


def _boundary(content_type: str | None) -> bytes:
    media, options = parse_options_header(content_type)
    if media != b"multipart/form-data":
        raise UnsupportedMediaType(f"Send the bundle as multipart/form-data, field `{FIELD}`.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedBody("The multipart/form-data content type has no boundary.")
    return boundary


def refuse_declared_size(content_length: str | None, limit: int) -> None:
    # A declared size past the limit is refused before a byte is read.
    declared = byte_count(content_length)
    if declared is not None and declared > limit:
        raise ContentTooLarge(f"The upload is larger than {limit} bytes.")


async def receive_upload(
    *,
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    content_length: str | None,
    into: Path,
    max_bytes: int,
) -> Path:
    """Stream the `bundle` part of a multipart body to a new file in `into`; return its path.

    More than `max_bytes` in the part (or the body) → 413;
    the file never outlives an error.
    """
    refuse_declared_size(content_length, max_bytes + ENVELOPE_BYTES)
    part = _BundlePart(max_bytes)
    parser = MultipartParser(_boundary(content_type), part.callbacks())
    new_file = partial(tempfile.mkstemp, prefix=".upload-", suffix=".tar.gz", dir=into)
    fd, name = await anyio.to_thread.run_sync(new_file)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            await _receive(chunks, parser, part, out, max_bytes + ENVELOPE_BYTES)
    except BaseException:
        # Shielded from cancellation: a client that hangs up leaves no file behind.
        await anyio.to_thread.run_sync(path.unlink, True)
        raise
    return path


async def _receive(
    chunks: AsyncIterator[bytes],
    parser: MultipartParser,
    part: _BundlePart,
    out: IO[bytes],
    limit: int,
) -> None:
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise ContentTooLarge(f"The upload is larger than {limit} bytes.")
        try:
            parser.write(chunk)
        except MultipartParseError:
            raise MalformedBody("The multipart/form-data body is malformed.") from None
        if len(part.buffer) >= FLUSH_BYTES:
            await _flush(part.buffer, out)
    await _flush(part.buffer, out)
    if not part.ended:
        raise MalformedBody("The multipart/form-data body ended early.")
    if not part.found:
        raise InvalidInput(f"The `{FIELD}` part is missing.", errors=[_field_error("missing")])


async def _flush(buffer: bytearray, out: IO[bytes]) -> None:
    data = bytes(buffer)
    buffer.clear()
    await anyio.to_thread.run_sync(out.write, data)
