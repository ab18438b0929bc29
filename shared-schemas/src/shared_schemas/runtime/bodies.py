"""Reading a request body under a limit, refused (413) before anything past it is read."""

from starlette.types import Receive, Scope

from shared_schemas.runtime.problems import ContentTooLarge


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the client declared, if a valid one."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(scope: Scope, receive: Receive, *, limit: int, setting: str) -> bytes:
    """The whole body; 413 naming `setting` when it is declared or streams beyond `limit`."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise ContentTooLarge(f"The body is {declared} bytes; {setting} allows {limit}.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ContentTooLarge(f"The body exceeds {limit} bytes ({setting}).")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
