"""Login throttling: failed logins counted per account and per client IP in a fixed window."""

from redis.asyncio import Redis

from auth_service import redis_keys
from auth_service.config import Settings
from auth_service.errors import OAuthFailure


async def check_login_allowed(
    redis: "Redis", *, settings: Settings, username: str, ip: str
) -> None:
    """Raise 429 while the account or the IP is over its failure budget, whatever the password."""
    limits = (
        (redis_keys.login_failures_account(username), settings.login_max_failures),
        (redis_keys.login_failures_ip(ip), settings.login_ip_max_failures),
    )
    async with redis.pipeline(transaction=False) as pipe:
        for key, _ in limits:
            pipe.get(key)
            pipe.ttl(key)
        replies = await pipe.execute()
    for index, (_, limit) in enumerate(limits):
        count, ttl = replies[2 * index], replies[2 * index + 1]
        if count is not None and int(count) >= limit:
            retry = max(int(ttl), 1)
            raise OAuthFailure(
                "invalid_request",
                f"Too many failed logins; retry after {retry} seconds.",
                status=429,
                retry_after=retry,
            )


async def record_login_failure(
    redis: "Redis", *, settings: Settings, username: str, ip: str
) -> None:
    """Count one failure against the account and the IP; the window starts at the first."""
    window = settings.login_window_seconds
    async with redis.pipeline(transaction=True) as pipe:
        for key in (redis_keys.login_failures_account(username), redis_keys.login_failures_ip(ip)):
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
        await pipe.execute()


async def clear_login_failures(redis: "Redis", *, username: str) -> None:
    """A successful login forgives the account's earlier failures."""
    await redis.delete(redis_keys.login_failures_account(username))
