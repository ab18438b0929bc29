"""How the CLI shows results (rich tables, or JSON with --json) and failures (on stderr)."""

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from servir.errors import ApiError, RateLimited, Unauthorized

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def plain(value: Any) -> Any:
    """JSON-ready data from contracts, lists of them, or plain data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def emit_json(value: Any) -> None:
    """Write `value` as JSON on stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(plain(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table on stdout."""
    shown = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        # The first column names the row (an id, a model): it is never broken over lines.
        shown.add_column(column, no_wrap=index == 0)
    for row in rows:
        shown.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(shown)


def say(message: str) -> None:
    """A line for the human at the terminal (stdout; nothing with --json)."""
    out.print(message, markup=False, highlight=False)


def problem(error: Exception, *, as_json: bool) -> None:
    """A failure on stderr: the problem's title and detail and each field error; the JSON
    problem with --json. Never a traceback."""
    if as_json:
        body = error.problem if isinstance(error, ApiError) and error.problem else None
        body = body or {"title": type(error).__name__, "detail": str(error)}
        sys.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
        return
    if not isinstance(error, ApiError):
        err.print(f"Error: {error}", markup=False, highlight=False)
        return
    headline = f"Error: {error.title} ({error.status})"
    err.print(f"{headline}: {error.detail}" if error.detail else headline, markup=False)
    for field in error.errors:
        where = ".".join(str(part) for part in field.get("loc", []))
        err.print(f"  {where}: {field.get('msg', '')}", markup=False, highlight=False)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        err.print(f"Retry after {error.retry_after:g} s.", markup=False, highlight=False)
    if isinstance(error, Unauthorized):
        err.print("Log in again with `servir login`.", markup=False, highlight=False)
