"""`text/csv` bodies, as MLflow's scoring server takes them: a header row naming the features
(wire or fitted names), then one row per line. Cells become the features' types here; a cell
that is not one stays text, so the model's schema refuses it naming the row and the field."""

import csv
import io
import math
from typing import Any

from model_service.formats.names import FeatureNames
from model_service.formats.rows import Loc, Row, columns, refuse

BOOL_WORDS = {"true": True, "1": True, "false": False, "0": False}
CSV_MEDIA_TYPE = "text/csv"


def csv_rows(body: bytes, names: FeatureNames, max_rows: int) -> tuple[list[Row], Loc]:
    """The rows of a CSV body by wire name, and where they are (the body itself)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse(["body"], "the CSV body is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise refuse(["body"], "the CSV body needs a header row naming the features")
        wire = columns([name.strip() for name in header], names, ["body", "header"])
        rows: list[Row] = []
        for cells in reader:
            if cells:  # blank lines are not rows
                rows.append(_row(cells, wire, names, [len(rows)], max_rows))
    except csv.Error as exc:
        raise refuse(["body"], f"the CSV body is malformed: {str(exc)[:200]}") from None
    if not rows:
        raise refuse(["body"], "the CSV body needs at least one row", "too_short")
    return rows, ["body"]


def _row(cells: list[str], wire: tuple[str, ...], names: FeatureNames, at: Loc, most: int) -> Row:
    if at[0] == most:
        raise refuse(["body"], f"at most {most} rows per request", "too_long")
    if len(cells) != len(wire):
        raise refuse(["body", *at], f"has {len(cells)} cells; the header names {len(wire)}")
    return {name: cell(text, names.types[name]) for name, text in zip(wire, cells, strict=True)}


def cell(text: str, kind: str) -> Any:
    """A CSV cell as the feature's type; text left as is when it is not one (None if empty)."""
    if kind == "category":
        return text
    word = text.strip()
    if not word:
        return None
    if kind == "bool":
        return BOOL_WORDS.get(word.lower(), text)
    try:
        return int(word) if kind == "int" else _finite(float(word), text)
    except ValueError:
        pass
    try:
        return _finite(float(word), text)
    except ValueError:
        return text


def _finite(number: float, text: str) -> float | str:
    return number if math.isfinite(number) else text
