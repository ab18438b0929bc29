"""One HTTP/1.1 exchange on a raw socket: for what httpx will not send (absurd heads,
absolute-form targets) and for telling a clean close from a TCP reset."""

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class RawAnswer:
    """What came back on a raw connection: a parsed response, or how the connection ended
    ("answered", "closed" without an answer, "reset", or "refused" at connect)."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    ended: str
    seconds: float
    finished: float  # time.monotonic() when it ended


def raw_exchange(
    address: tuple[str, int],
    request: bytes,
    *,
    timeout: float = 10,
    on_sent: Callable[[], None] | None = None,
) -> RawAnswer:
    """Send `request` on a new connection; read one response (or how the connection ended)."""
    started = time.monotonic()
    data, ended = b"", "closed"
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except ConnectionRefusedError:
        return RawAnswer(None, {}, b"", "refused", 0.0, time.monotonic())
    with sock:
        try:
            sock.sendall(request)
            if on_sent is not None:
                on_sent()
            while chunk := sock.recv(65536):
                data += chunk
                if _complete(data):
                    break
        except (ConnectionResetError, BrokenPipeError):
            ended = "reset"
    finished = time.monotonic()
    if not _complete(data):
        return RawAnswer(None, {}, b"", ended, finished - started, finished)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(
        int(lines[0].split()[1]), headers, body, "answered", finished - started, finished
    )


def _complete(data: bytes) -> bool:
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True
