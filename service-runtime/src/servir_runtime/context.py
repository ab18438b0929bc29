"""The request id of the request being served, for logs and error bodies."""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def request_id_from(header: bytes | None) -> str:
    """The caller's request id when it is well formed, else a new one."""
    if header is not None and _VALID_ID.match(header):
        return header.decode("ascii")
    return uuid.uuid4().hex
