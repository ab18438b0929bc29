"""Which server, which credential, and how failures become exit codes.

Credentials, first found wins: SERVIR_API_KEY, SERVIR_TOKEN (for CI), else the profile's stored
refresh token. The server: --server or SERVIR_SERVER, else the profile's, else the local stack.
"""

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import typer

from servir.cli import output
from servir.cli.options import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_USAGE,
    NotLoggedIn,
    Options,
    UsageError,
)
from servir.cli.profiles import Profile, load_profile, locked, save_profile
from servir.client import Client
from servir.errors import (
    ApiError,
    BundleError,
    ConnectionFailed,
    ServirError,
    Unauthorized,
    UnexpectedResponse,
)

DEFAULT_SERVER = "http://127.0.0.1:8000"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def server_url(opts: Options, profile: Profile | None) -> str:
    """The gateway to talk to, refused when plain http would cross the network."""
    url = (opts.server or (profile.server if profile else None) or DEFAULT_SERVER).rstrip("/")
    check_transport(url, insecure=opts.insecure)
    return url


def check_transport(url: str, *, insecure: bool) -> None:
    """Plain http only to this machine: elsewhere a password or token would travel readable."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(f"{url} is not an http(s) URL")
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname):
        raise UsageError(
            f"refusing plain http to {parts.hostname}: credentials would cross the network "
            "unencrypted; use https, or pass --insecure if you accept that"
        )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_client(opts: Options) -> tuple[Client, Profile | None]:
    """A client for the command, with the first credential found (see the module's doc)."""
    profile = load_profile(opts.profile)
    url = server_url(opts, profile)
    api_key, token = os.environ.get("SERVIR_API_KEY"), os.environ.get("SERVIR_TOKEN")
    if api_key or token:
        return Client(url, api_key=api_key or None, token=None if api_key else token), None
    # A login is for the server it was made with: never send its token to another one.
    if profile is None or profile.server.rstrip("/") != url or not profile.refresh_token:
        raise NotLoggedIn(
            f"not logged in to {url}: run `servir login`, or set SERVIR_API_KEY or SERVIR_TOKEN"
        )
    client = Client(url)
    restore(client, profile)
    return client, profile


def restore(client: Client, profile: Profile) -> None:
    """Give the client the profile's stored tokens."""
    creds = client.credentials
    creds.refresh_token, creds.access_token = profile.refresh_token, profile.access_token
    creds.expires_at = profile.expires_at


def remembered(profile: Profile, client: Client) -> Profile:
    """`profile` holding the client's current tokens."""
    creds = client.credentials
    profile.refresh_token, profile.access_token = creds.refresh_token, creds.access_token
    profile.expires_at = creds.expires_at
    return profile


@contextmanager
def guarded(opts: Options) -> Iterator[None]:
    """Turn failures into a message on stderr and the promised exit code."""
    try:
        yield
    except (ServirError, OSError) as error:
        output.problem(error, as_json=opts.json)
        raise typer.Exit(exit_code(error)) from None


def exit_code(error: Exception) -> int:
    """1 API error (or a model that cannot be bundled), 2 usage (the command line, or an input
    it names, cannot be used), 3 authentication needed or failed, 4 connection failed."""
    if isinstance(error, Unauthorized | NotLoggedIn):
        return EXIT_AUTH
    if isinstance(error, ConnectionFailed):
        return EXIT_CONNECTION
    if isinstance(error, ApiError | BundleError | UnexpectedResponse):
        return EXIT_API
    return EXIT_USAGE


def refreshed(opts: Options, client: Client, profile: Profile) -> Profile:
    """Refresh the expired access token under the profiles' lock; another command may have
    refreshed while this one waited: then its tokens are taken, and the spent one never sent."""
    with locked():
        latest = load_profile(opts.profile) or profile
        if latest.refresh_token != profile.refresh_token and latest.server == profile.server:
            restore(client, latest)
            profile = latest
        if client.credentials.expired():
            client.refresh()
            save_profile(opts.profile, remembered(profile, client))
    return profile


@contextmanager
def session(opts: Options) -> Iterator[Client]:
    """A logged-in client for one command. The refresh token rotates on every use: the new one
    is stored even when the command fails, or the next command would present a spent one."""
    with guarded(opts):
        client, profile = open_client(opts)
        try:
            if profile is not None and client.credentials.expired():
                profile = refreshed(opts, client, profile)
            yield client
        finally:
            client.close()
            if profile is not None and client.refresh_token != profile.refresh_token:
                save_profile(opts.profile, remembered(profile, client))
