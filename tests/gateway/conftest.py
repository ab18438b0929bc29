"""Fixtures shared by the gateway's tests."""

import pytest
from redis.asyncio import Redis


@pytest.fixture
async def flushed(redis_url: str) -> str:
    """The tests' Redis, without earlier windows."""
    async with Redis.from_url(redis_url) as redis:
        for key in await redis.keys("servir:ratelimit:*"):
            await redis.delete(key)
    return redis_url
