"""The bootstrap admin of docs/api.md: created when missing, its password set from the environment
at every start (the environment wins)."""

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth_service import revocations
from auth_service.config import Settings
from auth_service.passwords import Passwords
from auth_service.users import create_user, get_user, new_user_record, write_user
from shared_schemas.auth import ALL_SCOPES

logger = logging.getLogger("servir.bootstrap")
RETRY_SECONDS = 1.0


async def ensure_admin(redis: "Redis", *, settings: Settings, passwords: Passwords) -> None:
    """Create the admin, or give it the configured password if it has another one."""
    username = settings.admin_username
    password = settings.admin_password.get_secret_value()
    user = await get_user(redis, username)
    if user is None:
        record = new_user_record(
            username=username, password_hash=await passwords.hash(password), scopes=list(ALL_SCOPES)
        )
        await create_user(redis, record)
        logger.info("bootstrap admin created", extra={"username": username})
        return
    if await passwords.verify(user.password_hash, password):
        return
    cutoff = time.time()
    updated = user.model_copy(
        update={"password_hash": await passwords.hash(password), "tokens_not_before": cutoff}
    )
    await write_user(redis, username, updated)
    await revocations.cut_off_user(redis, username=username, at=cutoff)
    logger.info("bootstrap admin password set from the environment", extra={"username": username})


async def ensure_admin_until_done(
    redis: "Redis", *, settings: Settings, passwords: Passwords
) -> None:
    """Retry while Redis is unreachable, so the service may start before Redis does."""
    while True:
        try:
            await ensure_admin(redis, settings=settings, passwords=passwords)
        except RedisError as exc:
            logger.warning("bootstrap admin waits for Redis", extra={"error": type(exc).__name__})
            await asyncio.sleep(RETRY_SECONDS)
        else:
            return
