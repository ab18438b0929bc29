"""What the auth-service's lifespan builds, kept in the app as one typed value (read in deps.py)."""

import asyncio
from dataclasses import dataclass

from auth_service.config import Settings
from auth_service.passwords import Passwords
from auth_service.signing import KeyRing


@dataclass(frozen=True, slots=True)
class AuthState:
    """The auth-service's running state."""

    settings: Settings
    keys: KeyRing
    passwords: Passwords
    bootstrap: "asyncio.Task[None]"  # ensures the admin account until it exists
