"""Reading a request body under a limit, refused (413) before anything past it is read;
and the media type a JSON route takes (415 otherwise)."""

import logging
import re
from collections.abc import Collection

from starlette.types import Receive, Scope

from servir_runtime.problems import ContentTooLarge, ServiceError, UnsupportedMediaType

logger = logging.getLogger("servir.bodies")

JSON_MEDIA_TYPE = "application/json"
# ASCII digits only: str.isdigit also accepts "²" and other Unicode digits that int() refuses,
# and int() refuses more than 4,300 digits; 18 digits hold any byte count a body can have.
_BYTE_COUNT = re.compile(r"[0-9]{1,18}")


def byte_count(value: str | bytes | None) -> int | None:
    """A header's byte count (ASCII decimal digits), or None when it is missing or not one."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value is None or not _BYTE_COUNT.fullmatch(value):
        return None
    return int(value)


class BodyCutShort(ServiceError):
    """The client left, or its body's deadline passed, before the body came in whole (the
    server has already answered 408 or closed; this ends the request's handling)."""

    status = 408
    title = "Request Timeout"


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the client declared, if a valid one."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            return byte_count(value)
    return None


def too_large(detail: str, *, limit: int, setting: str) -> ContentTooLarge:
    """The 413 for the caller, who learns the limit in bytes; the operator's log line names
    the setting (`setting`, an environment variable) that moves it."""
    logger.info("Body over its limit (%s=%d)", setting, limit, extra={"setting": setting})
    return ContentTooLarge(detail)


async def read_body(scope: Scope, receive: Receive, *, limit: int, setting: str) -> bytes:
    """The whole body; 413 when it is declared or streams beyond `limit` (logged naming
    `setting`)."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        detail = f"The body is {declared} bytes; this route takes at most {limit}."
        raise too_large(detail, limit=limit, setting=setting)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Not the end of the body: a truncated body must never be handled as a whole one.
            raise BodyCutShort("The request body did not arrive in full.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            detail = f"The body exceeds this route's limit of {limit} bytes."
            raise too_large(detail, limit=limit, setting=setting)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, without parameters, lower case ("" when none)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def require_json(content_type: str | None, *, also: Collection[str] = ()) -> None:
    """415 unless the body is declared `application/json` (or `application/*+json`), or one
    of the media types in `also` ("" stands for no Content-Type at all)."""
    media = media_type(content_type)
    json_like = media == JSON_MEDIA_TYPE or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not json_like and media not in also:
        declared = f"declared as {media[:100]}" if media else "sent without a Content-Type"
        raise UnsupportedMediaType(f"The body is {declared}; send {JSON_MEDIA_TYPE}.")
