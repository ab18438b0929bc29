"""Options every command shares, and the exit codes the CLI promises."""

from dataclasses import dataclass
from typing import Annotated

import typer

from servir.cli.profiles import DEFAULT_PROFILE
from servir.errors import ServirError

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CONNECTION = 4


class UsageError(ServirError):
    """The command line cannot be carried out as given (exit code 2)."""


class NotLoggedIn(ServirError):
    """No credential to send: log in, or set SERVIR_API_KEY or SERVIR_TOKEN (exit code 3)."""


@dataclass
class Options:
    """The root command's options, handed to every command through the click context."""

    server: str | None = None
    profile: str = DEFAULT_PROFILE
    insecure: bool = False
    json: bool = False


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Machine-readable output (JSON on stdout and stderr).")
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server", envvar="SERVIR_SERVER", help="The gateway's URL (default: the profile's)."
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", envvar="SERVIR_PROFILE", help="Which stored login to use."),
]
InsecureFlag = Annotated[
    bool,
    typer.Option("--insecure", help="Allow plain http to a host other than this machine."),
]


def options(
    ctx: typer.Context,
    json_out: bool = False,
    *,
    server: str | None = None,
    profile: str | None = None,
    insecure: bool = False,
) -> Options:
    """The root options, with what the command itself was given laid over them."""
    found = ctx.find_object(Options)
    current = found if found is not None else Options()
    current.json = current.json or json_out
    current.insecure = current.insecure or insecure
    current.server = server or current.server
    current.profile = profile or current.profile
    return current
