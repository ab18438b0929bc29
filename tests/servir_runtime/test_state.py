"""The typed accessor to a service's state."""

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from servir_runtime.state import keep_state, service_redis, service_state


@dataclass
class Running:
    name: str


def test_the_state_kept_is_the_state_read_back_by_its_type() -> None:
    app = FastAPI()
    keep_state(app, Running("iris"))
    assert service_state(app, Running) == Running("iris")


def test_reading_before_the_lifespan_kept_it_says_so() -> None:
    with pytest.raises(RuntimeError, match="Running is not set"):
        service_state(FastAPI(), Running)


def test_a_state_of_another_kind_is_refused() -> None:
    app = FastAPI()
    keep_state(app, "not a Running")
    with pytest.raises(RuntimeError, match="Running is not set"):
        service_state(app, Running)


def test_an_app_without_state_is_refused() -> None:
    async def bare(scope: object, receive: object, send: object) -> None:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="keeps no state"):
        keep_state(bare, Running("iris"))


def test_the_runtime_redis_is_read_back_typed() -> None:
    app = FastAPI()
    redis = Redis()
    app.state.redis = redis
    assert service_redis(app) is redis


def test_reading_redis_before_the_lifespan_opened_it_says_so() -> None:
    with pytest.raises(RuntimeError, match="Redis is not set"):
        service_redis(FastAPI())
