"""The `servir` command: its root options and every command under it."""

from typing import Annotated

import typer

from servir.cli import admin, auth, models, predict
from servir.cli import bundle as bundling
from servir.cli.options import InsecureFlag, Options, ProfileOption, ServerOption
from servir.cli.profiles import DEFAULT_PROFILE

app = typer.Typer(
    name="servir",
    help="Servir from the command line: log in, bundle and push models, predict, manage keys "
    "and users.",
    epilog="Exit codes: 0 ok, 1 API error, 2 usage error, 3 authentication needed or failed, "
    "4 connection failed. SERVIR_API_KEY or SERVIR_TOKEN override a stored login (for CI).",
    no_args_is_help=True,
    # Failures are printed as the problem's title and detail, never as a traceback.
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    server: ServerOption = None,
    profile: ProfileOption = None,
    insecure: InsecureFlag = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Machine-readable output for every command.")
    ] = False,
) -> None:
    """The options every command shares, kept in the context for them."""
    ctx.obj = Options(
        server=server, profile=profile or DEFAULT_PROFILE, insecure=insecure, json=json_out
    )


app.command()(auth.login)
app.command()(auth.logout)
app.command()(auth.whoami)
app.command()(bundling.bundle)
app.command()(models.push)
app.command()(predict.predict)
app.add_typer(models.app, name="models")
app.add_typer(admin.keys, name="keys")
app.add_typer(admin.users, name="users")
