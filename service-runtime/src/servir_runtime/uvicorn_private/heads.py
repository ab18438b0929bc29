"""uvicorn's httptools protocol with a bounded request head, answering in problem+json.

httptools (llhttp) sets no limit on the request line or the headers: uvicorn would buffer a
10 MB header value, or 100,000 headers, and hand them to the application (the gateway would
forward them). Here a head beyond `max_bytes` (request line and header lines) or with more
than `max_headers` headers is answered 431 before the application sees anything, and a
request httptools cannot parse 400, both as problem+json (uvicorn's own is text/plain), and
the connection closes. Bytes held for a head never complete stay within `max_bytes` plus the
two reads it began and ended in.
"""

import uuid

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared_schemas.problems import PROBLEM_MEDIA_TYPE, Problem

MAX_INSTANCE_CHARS = 256


class HeadTooLarge(httptools.HttpParserError):
    """The request head passed a limit (raised from a parser callback)."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing heads beyond the class's limits with 431."""

    max_bytes = 64 * 1024
    max_headers = 100

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._in_head = False
        self._head_bytes = 0  # request line and header lines of the current head
        self._whole_head_reads = 0  # bytes of reads that began and ended inside the head
        self._too_large = False

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse a head whose reads alone pass the limit (one that never
        ends: httptools holds a header's value until the next header begins)."""
        inside = self._in_head
        super().data_received(data)
        if inside and self._in_head and not self._too_large and not self.transport.is_closing():
            self._whole_head_reads += len(data)
            if self._whole_head_reads > self.max_bytes:
                self._too_large = True
                self.send_400_response("")

    def on_message_begin(self) -> None:
        """A new request: its head starts."""
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._whole_head_reads = 0

    def on_url(self, url: bytes) -> None:
        """Part of the request target."""
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        """One whole header."""
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        if len(self.headers) >= self.max_headers:
            self._refuse()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is whole and within the limits."""
        self._in_head = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """Answer a refused or unparseable head as problem+json, then close."""
        self._in_head = False  # nothing more is read into this head
        if self._too_large:
            detail = (
                f"The request head is larger than {self.max_bytes} bytes or has more than "
                f"{self.max_headers} headers."
            )
            self.write_problem(431, "Request Header Fields Too Large", detail)
        else:
            self.write_problem(400, "Bad Request", "The request is not valid HTTP/1.1.")
        self.close_after_answer()

    def write_problem(self, status: int, title: str, detail: str) -> None:
        """Write a whole problem+json response that closes the connection."""
        request_id = uuid.uuid4().hex
        body = orjson.dumps(
            Problem(
                title=title,
                status=status,
                detail=detail,
                instance=self._instance(),
                request_id=request_id,
            ).model_dump(exclude_none=True)
        )
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head.append(b"%s: %s\r\n" % (name, value))
        head.append(
            b"content-type: %s\r\ncontent-length: %d\r\nx-request-id: %s\r\n"
            b"connection: close\r\n\r\n"
            % (PROBLEM_MEDIA_TYPE.encode(), len(body), request_id.encode())
        )
        self.transport.write(b"".join(head) + body)

    def close_after_answer(self) -> None:
        """Close once an answer is written (a subclass may first drain what is still coming)."""
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_bytes:
            self._refuse()

    def _refuse(self) -> None:
        self._too_large = True
        raise HeadTooLarge("request head too large")

    def _instance(self) -> str:
        path = (getattr(self, "url", b"") or b"/").split(b"?", 1)[0][:MAX_INSTANCE_CHARS]
        text = path.decode("ascii", errors="replace")
        return text if text.startswith("/") and text.isprintable() else "/"


def bounded_head_protocol(*, max_bytes: int, max_headers: int) -> type[BoundedHeadProtocol]:
    """The protocol class for uvicorn's `http=` with these limits."""
    limits = {"max_bytes": max_bytes, "max_headers": max_headers}
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), limits)
