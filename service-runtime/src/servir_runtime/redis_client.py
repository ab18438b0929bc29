"""Redis clients that fail fast: short timeouts, and no retry but one immediate reconnect.

The one reconnect is for a pooled connection that Redis closed (a restart): without it the
first request after Redis comes back fails. Timeouts are never retried, so a hung Redis costs
a request at most one timeout.
"""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

CHECK_OK = "ok"


def connect_redis(url: str, *, timeout: float) -> "Redis":
    """A pooled client; a hung or dead Redis costs a request at most `timeout` per call."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        retry_on_timeout=False,
        health_check_interval=0,
    )


def connect_subscriber(url: str, *, connect_timeout: float) -> "Redis":
    """A client for one long-lived pub/sub subscription.

    No read timeout (a subscription is silent for long: the follower pings to detect a hung
    Redis) and no retry at all: a silent resubscribe would skip the follower's reload of the
    state it mirrors, so every reconnect must go through the follower's own loop.
    """
    return Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


async def redis_check(redis: "Redis") -> str:
    """`ok`, or a short reason Redis cannot serve."""
    try:
        await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return f"unreachable ({type(exc).__name__})"
    return CHECK_OK
