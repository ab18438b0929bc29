"""`servir login`, `logout` and `whoami`."""

import sys
from typing import Annotated

import typer

from servir.cli import output
from servir.cli.options import (
    InsecureFlag,
    JsonFlag,
    NotLoggedIn,
    ProfileOption,
    ServerOption,
    UsageError,
    options,
)
from servir.cli.profiles import Profile, load_profile, save_profile
from servir.cli.session import guarded, remembered, server_url, session
from servir.client import Client

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from stdin (for scripts)."),
]


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    """The password from a hidden prompt, or the first line of stdin: never from argv, where
    every user of the machine could read it."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(prompt, hide_input=True)
    if not password:
        raise UsageError("the password is empty")
    return password


def login(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option("--username", "-u", help="Who logs in.")] = None,
    password_stdin: PasswordStdin = False,
    server: ServerOption = None,
    profile: ProfileOption = None,
    insecure: InsecureFlag = False,
    json_out: JsonFlag = False,
) -> None:
    """Log in with a password; the refresh token is kept for the profile (file mode 0600)."""
    opts = options(ctx, json_out, server=server, profile=profile, insecure=insecure)
    with guarded(opts):
        url = server_url(opts, load_profile(opts.profile))
        name = username or typer.prompt("Username")
        password = read_password(password_stdin)
        with Client(url) as client:
            token = client.login(name, password)
            save_profile(opts.profile, remembered(Profile(url, name), client))
    if opts.json:
        output.emit_json(
            {"server": url, "profile": opts.profile, "username": name, "scope": token.scope}
        )
    else:
        output.say(f"Logged in to {url} as {name} (profile {opts.profile}; scopes {token.scope})")


def logout(
    ctx: typer.Context,
    profile: ProfileOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Revoke the stored refresh token (RFC 7009) and delete it."""
    opts = options(ctx, json_out, profile=profile)
    with guarded(opts):
        stored = load_profile(opts.profile)
        if stored is None or not stored.refresh_token:
            raise NotLoggedIn(f"profile {opts.profile} holds no login")
        # Forget it first: even when the server cannot be reached, the token leaves this disk.
        save_profile(opts.profile, Profile(stored.server, stored.username))
        with Client(server_url(opts, stored), refresh_token=stored.refresh_token) as client:
            client.logout()
    if opts.json:
        output.emit_json({"profile": opts.profile, "server": stored.server, "revoked": True})
    else:
        output.say(f"Logged out of {stored.server} (profile {opts.profile})")


def whoami(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Who the current credential is, and its scopes."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        me = client.me()
    if opts.json:
        output.emit_json(me)
    else:
        output.say(f"{me.username} at {client.base_url}: {' '.join(me.scopes)}")
