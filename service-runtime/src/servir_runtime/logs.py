"""JSON log lines, one object per line, each carrying the request id."""

import logging
import sys
import traceback
import warnings
from datetime import UTC, datetime
from typing import Any

import orjson

from servir_runtime.context import request_id_var

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "color_message",  # uvicorn's ANSI copy of `msg`
}
# Chatty per-request loggers of libraries: one line per upstream call would cost throughput.
_QUIET = ("httpx", "httpcore")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; `extra=` fields become top-level keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exc"] = "".join(traceback.format_exception(record.exc_info[1])).rstrip()
        return orjson.dumps(line, default=str).decode()


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """`warnings.showwarning`, as a JSON record: the log stays one object per line.

    The warnings filters still decide what is shown, so a library's warning comes out once per
    place that raises it, not on every call.
    """
    logging.getLogger("py.warnings").warning(
        "%s", message, extra={"category": category.__name__, "source": f"{filename}:{lineno}"}
    )


def configure_logging(*, service: str, level: str) -> None:
    """Send every logger (uvicorn's too), and Python's warnings, through one JSON handler on
    stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.showwarning = _log_warning
