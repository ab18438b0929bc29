"""Stored logins: per profile, the server and the refresh token, in the user's config folder.

The folder is 0700 and the file 0600: a refresh token is a credential. The file is replaced
atomically (a temporary file in the same folder, then a rename), so a crash or a concurrent
CLI never leaves it half written.
"""

import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from servir.errors import ServirError

if sys.platform != "win32":
    import fcntl

PROFILES_FILE = "profiles.json"
LOCK_FILE = ".lock"
DEFAULT_PROFILE = "default"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


@dataclass
class Profile:
    """One stored login. The access token is kept too (with its expiry), so commands run
    within its lifetime do not refresh: every refresh rotates the refresh token, and two
    commands refreshing at once with the same one would revoke the whole login."""

    server: str
    username: str | None = None
    refresh_token: str | None = None
    access_token: str | None = None
    expires_at: float | None = None


def config_dir() -> Path:
    """The CLI's config folder (XDG_CONFIG_HOME is honoured)."""
    return Path(platformdirs.user_config_dir("servir"))


def profiles_path() -> Path:
    """The file that holds every profile."""
    return config_dir() / PROFILES_FILE


def load_profiles() -> dict[str, Profile]:
    """Every stored profile (none when the file does not exist)."""
    path = profiles_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ServirError(f"cannot read {path}: {error}") from None
    stored = raw.get("profiles", {}) if isinstance(raw, dict) else {}
    return {
        name: Profile(**{k: v for k, v in fields.items() if k in Profile.__dataclass_fields__})
        for name, fields in stored.items()
        if isinstance(fields, dict) and isinstance(fields.get("server"), str)
    }


def load_profile(name: str) -> Profile | None:
    """One stored profile, or None."""
    return load_profiles().get(name)


def save_profile(name: str, profile: Profile | None) -> None:
    """Store (or, with None, remove) one profile, leaving the others as they are."""
    profiles = load_profiles()
    if profile is None:
        profiles.pop(name, None)
    else:
        profiles[name] = profile
    body = {"profiles": {key: asdict(value) for key, value in profiles.items()}}
    _write_private(profiles_path(), json.dumps(body, indent=2) + "\n")


@contextmanager
def locked() -> Iterator[None]:
    """Hold the profiles against other CLI processes while a token is refreshed: two commands
    refreshing with the same refresh token would present it twice, and the reuse revokes the
    whole login. (No lock on Windows.)"""
    folder = _private_folder(config_dir())
    if sys.platform == "win32":
        yield
        return
    handle = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing the file releases the lock


def _private_folder(folder: Path) -> Path:
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
        folder.chmod(FOLDER_MODE)  # made earlier, or by another tool, with a looser umask
    return folder


def _write_private(path: Path, text: str) -> None:
    folder = _private_folder(path.parent)
    # mkstemp creates the file 0600 from the start: the token is never readable by others.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".profiles-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
