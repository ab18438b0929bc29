"""`servir models alias|unalias|traffic`: which version a model's requests reach."""

from typing import Annotated

import typer

from servir.cli import output
from servir.cli.options import JsonFlag, UsageError, options
from servir.cli.session import session

NameArg = Annotated[str, typer.Argument(help="The model's name.")]


def alias(
    ctx: typer.Context,
    name: NameArg,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="canary, staging, ...")],
    version: Annotated[str, typer.Argument(help="The loaded version it points at.")],
    public: Annotated[
        bool, typer.Option("--public", help="Callers with models:predict may call it.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Point ALIAS of the model at VERSION (predict with --version ALIAS to call it)."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        metadata = client.set_alias(name, alias_name, version, public=public)
    if opts.json:
        output.emit_json(metadata)
    else:
        shown = " (public)" if alias_name in metadata.public_aliases else ""
        output.say(f"{name}: {alias_name} -> {version}{shown}")


def unalias(
    ctx: typer.Context,
    name: NameArg,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="The alias to remove.")],
    json_out: JsonFlag = False,
) -> None:
    """Remove ALIAS of the model (production cannot be removed: promote another version)."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        client.remove_alias(name, alias_name)
    if opts.json:
        output.emit_json({"name": name, "removed": alias_name})
    else:
        output.say(f"{name}: {alias_name} removed")


def traffic(
    ctx: typer.Context,
    name: NameArg,
    weights: Annotated[
        list[str] | None, typer.Argument(help="VERSION=WEIGHT pairs summing to 100: 1=90 2=10.")
    ] = None,
    sticky_by: Annotated[
        str | None,
        typer.Option(help="Keep each caller on one version: principal, or a header's name."),
    ] = None,
    shadow: Annotated[
        str | None, typer.Option(help="A version to copy a sample of the requests to.")
    ] = None,
    shadow_rate: Annotated[
        float, typer.Option(help="The share of requests copied to --shadow (0 to 1].")
    ] = 0.1,
    clear: Annotated[bool, typer.Option("--clear", help="Stop splitting.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Show, set or clear how the model's unversioned predictions share its versions."""
    opts = options(ctx, json_out)
    split = _weights(weights or [])
    with session(opts) as client:
        if clear:
            client.clear_traffic(name)
        elif split:
            copies = (shadow, shadow_rate) if shadow else None
            shown = client.set_traffic(name, split, sticky_by=sticky_by, shadow=copies)
        else:
            shown = client.traffic(name)
    if clear and opts.json:
        output.emit_json({"name": name, "split": None})
    elif clear:
        output.say(f"{name}: no split; production serves")
    elif opts.json:
        output.emit_json(shown)
    else:
        shares = ", ".join(f"{version}: {weight}%" for version, weight in shown.split.items())
        sticky = f"; sticky by {shown.sticky_by}" if shown.sticky_by else ""
        copied = shown.shadow
        shadowed = f"; shadow {copied.version} at {copied.sample_rate:g}" if copied else ""
        output.say(f"{name}: {shares}{sticky}{shadowed}")


def _weights(pairs: list[str]) -> dict[str, int]:
    split: dict[str, int] = {}
    for pair in pairs:
        version, _, weight = pair.partition("=")
        if not version or not weight.isdigit():
            raise UsageError(f"{pair!r} is not VERSION=WEIGHT (for example 2=10)")
        split[version] = int(weight)
    return split
