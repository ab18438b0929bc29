"""The request id of the request being served, for logs and error bodies."""

import random
import re
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def request_id_from(header: bytes | None) -> str:
    """The caller's request id when it is well formed, else a new one."""
    if header is not None and _VALID_ID.match(header):
        return header.decode("ascii")
    # 128 random bits as 32 hex digits, like a uuid4's hex. An id only has to be unique, not
    # unguessable: Python's generator (seeded from the OS at start) gives that without the
    # system call and UUID object of uuid4, a few microseconds on every request.
    return f"{random.getrandbits(128):032x}"
