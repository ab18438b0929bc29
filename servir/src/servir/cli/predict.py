"""`servir predict`: a file of rows in, predictions out, in chunks of the model's max_rows."""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from servir.cli import output
from servir.cli.options import JsonFlag, UsageError, options
from servir.cli.session import session
from servir.cli.tabular import read_rows, write_predictions
from servir.client import Client
from servir.client.rows import Instance
from shared_schemas.inference import PredictResponse


class Format(StrEnum):
    """Output formats."""

    json = "json"
    csv = "csv"


def predict(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name.")],
    source: Annotated[
        str, typer.Option("--input", "-i", help="JSON, CSV or Parquet rows; - for JSON on stdin.")
    ],
    destination: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.json,
    version: Annotated[
        str | None, typer.Option(help="A version or an alias (default: production).")
    ] = None,
    probabilities: Annotated[
        bool, typer.Option("--probabilities", help="Also the class probabilities.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Predict every row of a file; beyond the model's max_rows they go in chunks."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        metadata = client.model(name)
        rows = read_rows(source, metadata.features)
        if not rows:
            raise UsageError(f"{source} holds no rows")
        answer = chunked(client, name, rows, metadata.max_rows, version, probabilities, opts.json)
        text = write_predictions(answer, fmt.value)
        if destination is None:
            sys.stdout.write(text)
        else:
            destination.write_text(text, encoding="utf-8")
    if destination is not None and not opts.json:
        output.say(f"{len(answer.predictions)} predictions written to {destination}")


def chunked(
    client: Client,
    name: str,
    rows: list[Instance],
    size: int,
    version: str | None,
    probabilities: bool,
    quiet: bool,
) -> PredictResponse:
    """Every chunk's predictions, in order, from one version: the first chunk's, so a version
    promoted meanwhile does not answer half of the file."""
    chunks = [rows[start : start + size] for start in range(0, len(rows), size)]
    answers: list[PredictResponse] = []
    # Disabled, not just hidden, for one chunk: a hidden bar still ends with an empty line.
    progress = Progress(
        TextColumn("predicting"),
        BarColumn(),
        MofNCompleteColumn(),
        console=output.err,
        disable=len(chunks) == 1 or quiet,
    )
    with progress:
        task = progress.add_task("rows", total=len(rows))
        for chunk in chunks:
            pinned = version or (answers[0].version if answers else None)
            answers.append(client.predict(name, chunk, version=pinned, probabilities=probabilities))
            progress.advance(task, len(chunk))
    first = answers[0]
    scores = [row for a in answers for row in a.probabilities or []] if probabilities else None
    return first.model_copy(
        update={
            "predictions": [p for a in answers for p in a.predictions],
            "probabilities": scores,
        }
    )
