"""The reason phrases of uvicorn's status lines, by RFC 9110's names.

Python 3.11's `http.HTTPStatus`, from which uvicorn builds its status lines, still says RFC
7231's "Request Entity Too Large" (413) and "Unprocessable Entity" (422); the problem bodies
say RFC 9110's names (servir_runtime.problems.REASONS), and the status line must not disagree.
"""

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from servir_runtime.problems import REASONS


def use_rfc9110_reasons() -> None:
    """Rewrite the status lines whose phrase RFC 9110 renamed (idempotent)."""
    for status, reason in REASONS.items():
        STATUS_LINE[status] = b"HTTP/1.1 %d %s\r\n" % (status, reason.encode())
