"""`servir push` and `servir models ls|show|load|unload|rm|promote` (alias, unalias and
traffic: routing.py)."""

from pathlib import Path
from typing import Annotated

import typer

from servir.cli import output, routing
from servir.cli.options import JsonFlag, UsageError, options
from servir.cli.session import session
from shared_schemas.inference import ModelMetadata, RuntimeInfo

app = typer.Typer(
    help="List, inspect, load, unload, delete, promote and alias models.", no_args_is_help=True
)
NameArg = Annotated[str, typer.Argument(help="The model's name.")]


def push(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="A bundle folder, or a .tar.gz of one.")],
    json_out: JsonFlag = False,
) -> None:
    """Upload a bundle: the stack verifies it and every replica serves it."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        if not bundle.exists():
            raise UsageError(f"{bundle} does not exist")
        metadata = client.push(bundle)
    if opts.json:
        output.emit_json(metadata)
    else:
        output.say(f"Pushed {metadata.name}: versions {', '.join(metadata.versions)}")


@app.command("ls")
def list_models(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Every model, its versions and the one that serves by default."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        models = client.models()
    if opts.json:
        output.emit_json(models)
        return
    rows = [
        (m.name, ", ".join(m.versions), m.default_version, m.task, m.description) for m in models
    ]
    output.table(None, ["name", "versions", "default", "task", "description"], rows)


@app.command("show")
def show(ctx: typer.Context, name: NameArg, json_out: JsonFlag = False) -> None:
    """A model's metadata: its features (wire name, training column, type, limits)."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        metadata = client.model(name)
    if opts.json:
        output.emit_json(metadata)
    else:
        describe(metadata)


def describe(metadata: ModelMetadata) -> None:
    """The metadata as a human reads it."""
    public = set(metadata.public_aliases) - {"production"}  # production always is
    aliases = ", ".join(
        f"{alias} -> {version}" + (" (public)" if alias in public else "")
        for alias, version in metadata.aliases.items()
    )
    output.say(f"{metadata.name} ({metadata.task}): {metadata.description}")
    output.say(f"versions {', '.join(metadata.versions)}; default {metadata.default_version}")
    output.say(f"aliases {aliases or 'none'}; at most {metadata.max_rows} rows per request")
    if metadata.classes is not None:
        output.say(f"classes {', '.join(str(c) for c in metadata.classes)}")
    if metadata.runtime is not None:
        output.say(f"runtime {_runtime(metadata.runtime)}")
    rows = [
        (
            f.name,
            f.column or "",
            f.type,
            ", ".join(f.categories) if f.categories else "",
            "" if f.min is None else f.min,
            "" if f.max is None else f.max,
        )
        for f in metadata.features
    ]
    output.table("features", ["name", "column", "type", "categories", "min", "max"], rows)


def _repository(ctx: typer.Context, name: str, json_out: bool, action: str) -> None:
    opts = options(ctx, json_out)
    with session(opts) as client:
        (client.load if action == "load" else client.unload)(name)
    if opts.json:
        output.emit_json({"name": name, "action": action})
    else:
        output.say(f"{action.capitalize()}ed {name} on every replica")


@app.command("load")
def load(ctx: typer.Context, name: NameArg, json_out: JsonFlag = False) -> None:
    """Load (or reload) a model on every replica."""
    _repository(ctx, name, json_out, "load")


@app.command("unload")
def unload(ctx: typer.Context, name: NameArg, json_out: JsonFlag = False) -> None:
    """Unload a model on every replica."""
    _repository(ctx, name, json_out, "unload")


@app.command("rm")
def remove(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[
        str | None, typer.Option("--version", help="Only this version (default: every one).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Delete a version of a model, or every version of it."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        versions = [version] if version else client.model(name).versions
        what = f"{name} versions {', '.join(versions)}"
        if not yes and not typer.confirm(f"Delete {what}?"):
            raise UsageError("nothing deleted")
        for each in versions:
            client.delete(name, each)
    if opts.json:
        output.emit_json({"name": name, "deleted": versions})
    else:
        output.say(f"Deleted {what}")


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[str, typer.Argument(help="The version that will serve by default.")],
    json_out: JsonFlag = False,
) -> None:
    """Point the model's production alias at VERSION: unversioned predictions then use it."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        client.set_production(name, version)
    if opts.json:
        output.emit_json({"name": name, "aliases": {"production": version}})
    else:
        output.say(f"{name}: production -> {version}")


def _runtime(runtime: RuntimeInfo) -> str:
    """`onnxruntime (max difference 1.2e-07)`, or `sklearn: why not compiled`."""
    shown: str = runtime.name
    if runtime.max_difference is not None:
        shown += f" (max difference {runtime.max_difference:.2g})"
    return f"{shown}: {runtime.reason}" if runtime.reason else shown


# Which version requests reach: cli/routing.py.
app.command("alias")(routing.alias)
app.command("unalias")(routing.unalias)
app.command("traffic")(routing.traffic)
