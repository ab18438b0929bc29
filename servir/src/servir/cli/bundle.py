"""`servir bundle`: a fitted model (a .skops file, or `module:object`) and a sample of its
inputs become a bundle folder, made by servir.bundle.save_model (the bundle extra)."""

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from servir.cli import output
from servir.cli.options import JsonFlag, UsageError, options
from servir.cli.session import guarded

EXTRA_HINT = "install servir[bundle] (pip install 'servir[bundle]')"


def bundle(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Argument(help="A .skops model file, or module:object (e.g. train:pipeline).")
    ],
    sample: Annotated[Path, typer.Option(help="Sample inputs: a CSV or Parquet file.")],
    name: Annotated[str, typer.Option(help="The model's name in the stack.")],
    version: Annotated[str | None, typer.Option(help="Its version (default: 1).")] = None,
    description: Annotated[str | None, typer.Option(help="What the model does.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="The bundle folder to write (default: ./NAME).")
    ] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Load the types the .skops file lists (shown first).")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Save a model as a bundle, checked to predict as the model does, ready to push."""
    opts = options(ctx, json_out)
    with guarded(opts):
        fitted = _model(model, trust=trust, quiet=opts.json)
        frame = _sample(sample)
        save_model = _sdk("servir.bundle").save_model
        target = out or Path(name)
        saved = save_model(
            fitted, target, sample=frame, name=name, version=version, description=description
        )
    if opts.json:
        output.emit_json({"name": name, "version": version or "1", "path": str(saved)})
    else:
        output.say(f"Bundle {name} written to {saved}; push it with: servir push {saved}")


def _sdk(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UsageError(f"`servir bundle` needs {error.name}: {EXTRA_HINT}") from None


def _model(spec: str, *, trust: bool, quiet: bool) -> Any:
    path = Path(spec)
    if path.suffix == ".skops":
        if not path.is_file():
            raise UsageError(f"{spec} is not a file")
        return _skops(path, trust=trust, quiet=quiet)
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"{spec}: give a .skops file, or module:object")
    # The module is the user's own code, found from the folder they run the CLI in.
    sys.path.insert(0, str(Path.cwd()))
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"cannot import {module_name}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise UsageError(f"{module_name} has no {attribute}")
        found = getattr(found, part)
    return found


def _skops(path: Path, *, trust: bool, quiet: bool) -> Any:
    sio = _sdk("skops.io")
    untrusted: list[str] = sio.get_untrusted_types(file=path)
    if untrusted and not quiet:
        output.err.print("The file instantiates these types beyond skops' defaults:", markup=False)
        for kind in untrusted:
            output.err.print(f"  {kind}", markup=False, highlight=False)
    if untrusted and not trust:
        raise UsageError(
            f"{path} needs {len(untrusted)} types trusted to load; check them, then pass --trust"
        )
    return sio.load(path, trusted=untrusted)


def _sample(path: Path) -> Any:
    pandas = _sdk("pandas")
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    if path.suffix.lower() == ".csv":
        return pandas.read_csv(path)
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pandas.read_parquet(path)
    raise UsageError(f"{path}: the sample must be a .csv or .parquet file")
