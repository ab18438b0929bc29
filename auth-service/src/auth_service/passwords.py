"""Password hashing with argon2id, off the event loop."""

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auth_service.config import Settings


class Passwords:
    """Hashes and verifies passwords; verifying an unknown user costs the same as a known one."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # A real hash of a random password: unknown usernames are verified against it.
        self.dummy_hash = self.hasher.hash("servir-dummy-password-never-matches")

    async def hash(self, password: str) -> str:
        """An argon2id hash of `password`."""
        return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; runs a full verify even when there is no hash."""
        return await anyio.to_thread.run_sync(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            self.hasher.verify(password_hash or self.dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than today's settings."""
        return self.hasher.check_needs_rehash(password_hash)
