"""Rows in (JSON, CSV, Parquet) and predictions out (JSON, CSV) for `servir predict`.

CSV is read with the standard library, each value typed by the model's feature types, so a
client-only install reads it; Parquet needs pandas and pyarrow (the bundle extra).
"""

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from servir.cli.options import UsageError
from servir.client.rows import Instance, instances
from shared_schemas.inference import PredictResponse
from shared_schemas.manifest import FeatureSpec, Scalar

TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}
PARQUET = (".parquet", ".pq")


def read_rows(source: str, features: Sequence[FeatureSpec]) -> list[Instance]:
    """The instances in `source` (a path, or `-` for JSON on stdin), by wire name."""
    if source == "-":
        return _json_rows(sys.stdin.read(), source, features)
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{source} is not a file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_rows(path.read_text(encoding="utf-8"), source, features)
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as stream:
            return _csv_rows(csv.DictReader(stream), features)
    if suffix in PARQUET:
        return instances(_parquet(path), features)
    raise UsageError(f"{source}: give a .json, .csv or .parquet file (or - for JSON on stdin)")


def _json_rows(text: str, source: str, features: Sequence[FeatureSpec]) -> list[Instance]:
    try:
        body = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source} is not JSON: {error}") from None
    rows = body.get("instances") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise UsageError(f'{source}: give a list of rows, or {{"instances": [...]}}')
    wire = {spec.model_column: spec.name for spec in features}
    return instances([_renamed(row, wire) for row in rows])


def _renamed(row: Any, wire: dict[str, str]) -> Any:
    return {wire.get(k, k): v for k, v in row.items()} if isinstance(row, dict) else row


def _csv_rows(
    reader: Iterable[Mapping[str, str | None]], features: Sequence[FeatureSpec]
) -> list[Instance]:
    specs = {spec.model_column: spec for spec in features} | {s.name: s for s in features}
    rows: list[Instance] = []
    for index, record in enumerate(reader):
        row: Instance = {}
        for column, text in record.items():
            spec = specs.get(column)
            name = spec.name if spec else column
            row[name] = _typed(text, spec, index, name)
        rows.append(row)
    return rows


def _typed(text: str | None, spec: FeatureSpec | None, index: int, name: str) -> Scalar:
    if text is None or text == "":
        raise UsageError(f"row {index}, {name}: the value is missing")
    kind = spec.type if spec else "category"
    try:
        if kind == "float":
            return float(text)
        if kind == "int":
            number = float(text)
            return int(number) if number.is_integer() else number
    except ValueError:
        raise UsageError(f"row {index}, {name}: {text!r} is not a number") from None
    if kind == "bool" and text.strip().lower() in TRUE | FALSE:
        return text.strip().lower() in TRUE
    return text


def _parquet(path: Path) -> Any:
    try:
        import pandas as pd  # noqa: PLC0415 - only Parquet input needs pandas and pyarrow
    except ImportError:
        hint = "reading Parquet needs pandas and pyarrow: pip install 'servir[bundle]'"
        raise UsageError(hint) from None
    return pd.read_parquet(path)


def write_predictions(answer: PredictResponse, fmt: str) -> str:
    """The predictions as JSON (the API's answer) or CSV (a prediction column, then one
    probability column per class)."""
    if fmt == "json":
        return json.dumps(answer.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    shown = (answer.classes or []) if answer.probabilities is not None else []
    writer.writerow(["prediction", *(f"probability_{c}" for c in shown)])
    for index, prediction in enumerate(answer.predictions):
        shares = answer.probabilities[index] if answer.probabilities is not None else []
        writer.writerow([prediction, *shares])
    return buffer.getvalue()
