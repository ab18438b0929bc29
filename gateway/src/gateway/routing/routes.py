"""Gateway routes: its own health, and the forwarding of public paths to the services."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from gateway.deps import (
    AuthUpstreamDep,
    LimitsDep,
    ModelUpstreamDep,
    RedisDep,
    SettingsDep,
)
from gateway.routing.lookup import TABLE
from gateway.routing.table import FORWARDED_METHODS
from servir_runtime.redis_client import redis_check
from shared_schemas.health import CHECK_OK, Readiness, ReadinessStatus

# A degraded model-service still answers predictions.
SERVING = frozenset({CHECK_OK, "degraded"})

router = APIRouter()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
    tags=["health"],
)
async def readyz(
    settings: SettingsDep,
    redis: RedisDep,
    auth: AuthUpstreamDep,
    model: ModelUpstreamDep,
    limits: LimitsDep,
) -> JSONResponse:
    """Redis and both upstreams: not ready without a model-service, degraded without the rest."""
    timeout = settings.readiness_timeout_seconds
    redis_state, auth_state, model_state = await asyncio.gather(
        redis_check(redis),
        auth.readiness(wait_seconds=timeout),
        model.readiness(wait_seconds=timeout),
    )
    if limits.limiter is not None and limits.limiter.fallback:
        redis_state = f"{redis_state}; rate limits counted in process"
    checks = {"redis": redis_state, "auth-service": auth_state, "model-service": model_state}
    status: ReadinessStatus
    if model_state not in SERVING:
        status = "not_ready"
    elif any(state != CHECK_OK for state in (redis_state, auth_state, model_state)):
        status = "degraded"
    else:
        status = "ready"
    body = Readiness(status=status, checks=checks)
    return JSONResponse(body.model_dump(exclude_none=True), 503 if status == "not_ready" else 200)


async def served_by_the_edge() -> Response:
    """Never called: `edge.Edge` serves every forwarded method on these paths. The routes
    exist so that FastAPI answers any other method there with 405 + Allow."""
    raise RuntimeError("forwarded requests are served by gateway.edge.Edge")


for _path in TABLE.forwarded_paths():
    router.add_api_route(
        _path, served_by_the_edge, methods=list(FORWARDED_METHODS), include_in_schema=False
    )
