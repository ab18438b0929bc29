"""`servir keys create|ls|revoke` and `servir users ls|create|update|rm`."""

from typing import Annotated

import typer

from servir.cli import output
from servir.cli.auth import PasswordStdin, read_password
from servir.cli.options import JsonFlag, UsageError, options
from servir.cli.session import session
from shared_schemas.auth import User

keys = typer.Typer(help="Your API keys (for scripts and CI).", no_args_is_help=True)
users = typer.Typer(help="Users of the stack (needs users:admin).", no_args_is_help=True)
ScopesOption = Annotated[
    list[str] | None,
    typer.Option("--scope", help="A scope (repeat for several): models:read, models:predict, ..."),
]
UsernameArg = Annotated[str, typer.Argument(help="The user's name.")]


@keys.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    scope: ScopesOption = None,
    expires_in_days: Annotated[int | None, typer.Option(help="Days until it expires.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Create an API key; its secret is shown this once."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        created = client.create_api_key(name, scope, expires_in_days)
    if opts.json:
        output.emit_json(created)
        return
    output.say(f"Key {created.id} ({created.name}), scopes {' '.join(created.scopes)}")
    output.say(f"Secret (shown once, store it now): {created.key}")


@keys.command("ls")
def list_keys(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Your API keys, without their secrets."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        listed = client.api_keys()
    if opts.json:
        output.emit_json(listed)
        return
    rows = [
        (k.id, k.name, k.prefix, " ".join(k.scopes), k.expires_at, k.last_used_at) for k in listed
    ]
    output.table(None, ["id", "name", "prefix", "scopes", "expires", "last used"], rows)


@keys.command("revoke")
def revoke_key(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (see `servir keys ls`).")],
    json_out: JsonFlag = False,
) -> None:
    """Delete an API key: it stops working at once."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        client.revoke_api_key(key_id)
    if opts.json:
        output.emit_json({"id": key_id, "revoked": True})
    else:
        output.say(f"Revoked key {key_id}")


def _show_users(listed: list[User]) -> None:
    rows = [(u.username, " ".join(u.scopes), u.disabled, u.created_at) for u in listed]
    output.table(None, ["username", "scopes", "disabled", "created"], rows)


@users.command("ls")
def list_users(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most this many (1 to 1000).")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    json_out: JsonFlag = False,
) -> None:
    """One page of users, by name."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        page = client.users(limit=limit, offset=offset)
    if opts.json:
        output.emit_json(page)
    else:
        _show_users(page.items)
        output.say(f"{len(page.items)} of {page.total} from {page.offset}")


@users.command("create")
def create_user(
    ctx: typer.Context,
    username: UsernameArg,
    scope: ScopesOption = None,
    password_stdin: PasswordStdin = False,
    json_out: JsonFlag = False,
) -> None:
    """Create a user; the password from a hidden prompt (or stdin), never the command line."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        password = read_password(password_stdin, f"Password for {username}")
        created = client.create_user(username, password, scope)
    if opts.json:
        output.emit_json(created)
    else:
        _show_users([created])


@users.command("update")
def update_user(
    ctx: typer.Context,
    username: UsernameArg,
    scope: ScopesOption = None,
    disabled: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Disable or enable the user.")
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Set a new password (prompted).")
    ] = False,
    password_stdin: PasswordStdin = False,
    json_out: JsonFlag = False,
) -> None:
    """Change a user's scopes, state or password."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        changes: dict[str, object] = {}
        if scope is not None:
            changes["scopes"] = scope
        if disabled is not None:
            changes["disabled"] = disabled
        if password or password_stdin:
            changes["password"] = read_password(password_stdin, f"New password for {username}")
        if not changes:
            raise UsageError("nothing to change: give --scope, --disable/--enable or --password")
        updated = client.update_user(username, **changes)
    if opts.json:
        output.emit_json(updated)
    else:
        _show_users([updated])


@users.command("rm")
def remove_user(ctx: typer.Context, username: UsernameArg, json_out: JsonFlag = False) -> None:
    """Delete a user: every token and key of theirs stops working."""
    opts = options(ctx, json_out)
    with session(opts) as client:
        client.delete_user(username)
    if opts.json:
        output.emit_json({"username": username, "deleted": True})
    else:
        output.say(f"Deleted user {username}")
