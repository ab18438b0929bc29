"""Dependencies every service shares; services re-export them from their own `deps.py`."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis


def get_redis(request: Request) -> "Redis":
    """The service's Redis client, made by the lifespan."""
    redis: Redis = request.app.state.redis
    return redis


RedisDep = Annotated["Redis", Depends(get_redis)]
