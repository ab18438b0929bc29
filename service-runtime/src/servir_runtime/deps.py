"""Dependencies every service shares; services re-export them from their own `deps.py`."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from servir_runtime.bodies import require_json
from servir_runtime.state import service_redis

# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
# a thread hop per request that cost the gateway most of its throughput.


async def get_redis(request: Request) -> "Redis":
    """The service's Redis client, made by the lifespan."""
    return service_redis(request.app)


RedisDep = Annotated["Redis", Depends(get_redis)]


async def json_body(request: Request) -> None:
    """A route that reads a JSON body: 415 when the body is declared as anything else."""
    require_json(request.headers.get("content-type"))


JsonBody = Depends(json_body)
