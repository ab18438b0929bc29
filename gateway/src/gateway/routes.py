"""Gateway routes: its own health, and the forwarding of public paths to the services."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.deps import (
    AuthUpstreamDep,
    LimitsDep,
    ModelUpstreamDep,
    ProxyDep,
    RedisDep,
    SettingsDep,
)
from gateway.proxy import Proxy
from gateway.upstream import Upstream
from shared_schemas.health import CHECK_OK, Readiness, ReadinessStatus
from shared_schemas.runtime.redis_client import redis_check

FORWARDED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

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


async def _forward(request: Request, upstream: Upstream, proxy: Proxy) -> Response:
    reply = await proxy.forward(request.scope, request.body, upstream)
    response = Response(reply.body, status_code=reply.status)
    response.raw_headers = reply.headers
    return response


async def forward_to_auth(request: Request, upstream: AuthUpstreamDep, proxy: ProxyDep) -> Response:
    """Forward `/auth/*` and the JWKS to the auth-service."""
    return await _forward(request, upstream, proxy)


async def forward_to_models(
    request: Request, upstream: ModelUpstreamDep, proxy: ProxyDep
) -> Response:
    """Forward `/models*` and `/v2*` to the model-service."""
    return await _forward(request, upstream, proxy)


for _path in ("/auth/{rest:path}", "/.well-known/jwks.json"):
    router.add_api_route(_path, forward_to_auth, methods=FORWARDED_METHODS, include_in_schema=False)
for _path in ("/models", "/models/{rest:path}", "/v2", "/v2/{rest:path}"):
    router.add_api_route(
        _path, forward_to_models, methods=FORWARDED_METHODS, include_in_schema=False
    )
