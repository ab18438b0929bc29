"""Gateway routes: its own health, and the forwarding of public paths to the services."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Scope

from gateway.authentication import Authenticator
from gateway.config import Settings
from gateway.deps import (
    AuthenticatorDep,
    AuthUpstreamDep,
    ModelUpstreamDep,
    RedisDep,
    SettingsDep,
)
from gateway.upstream import Upstream, forward_target, upstream_headers
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
    settings: SettingsDep, redis: RedisDep, auth: AuthUpstreamDep, model: ModelUpstreamDep
) -> JSONResponse:
    """Redis and both upstreams: not ready without a model-service, degraded without the rest."""
    timeout = settings.readiness_timeout_seconds
    redis_state, auth_state, model_state = await asyncio.gather(
        redis_check(redis),
        auth.readiness(wait_seconds=timeout),
        model.readiness(wait_seconds=timeout),
    )
    checks = {"redis": redis_state, "auth-service": auth_state, "model-service": model_state}
    status: ReadinessStatus
    if model_state not in SERVING:
        status = "not_ready"
    elif redis_state != CHECK_OK or auth_state != CHECK_OK:
        status = "degraded"
    else:
        status = "ready"
    body = Readiness(status=status, checks=checks)
    return JSONResponse(body.model_dump(exclude_none=True), 503 if status == "not_ready" else 200)


BodyReader = Callable[[], Awaitable[bytes]]


async def forward(
    scope: Scope,
    read_body: BodyReader,
    *,
    upstream: Upstream,
    settings: Settings,
    authenticator: Authenticator,
) -> Response:
    """Authenticate, then send the request to `upstream` and relay its answer."""
    target = forward_target(
        path=scope["path"], raw_path=scope.get("raw_path"), query=scope["query_string"]
    )
    # Before the body is read: a refused caller costs no upload.
    principal = await authenticator.admit(
        method=scope["method"], path=scope["path"], headers=scope["headers"]
    )
    headers = upstream_headers(
        scope["headers"],
        internal_token=settings.internal_token.get_secret_value().encode(),
        request_id=scope["state"]["request_id"],
        principal=principal,
        client_ip=scope["client"][0] if scope.get("client") else None,
    )
    reply = await upstream.forward(
        method=scope["method"], target=target, headers=headers, body=await read_body()
    )
    response = Response(reply.body, status_code=reply.status)
    response.raw_headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
    return response


async def _forward(
    request: Request, upstream: Upstream, settings: Settings, authenticator: Authenticator
) -> Response:
    return await forward(
        request.scope,
        request.body,
        upstream=upstream,
        settings=settings,
        authenticator=authenticator,
    )


async def forward_to_auth(
    request: Request,
    upstream: AuthUpstreamDep,
    settings: SettingsDep,
    authenticator: AuthenticatorDep,
) -> Response:
    """Forward `/auth/*` and the JWKS to the auth-service."""
    return await _forward(request, upstream, settings, authenticator)


async def forward_to_models(
    request: Request,
    upstream: ModelUpstreamDep,
    settings: SettingsDep,
    authenticator: AuthenticatorDep,
) -> Response:
    """Forward `/models*` and `/v2*` to the model-service."""
    return await _forward(request, upstream, settings, authenticator)


for _path in ("/auth/{rest:path}", "/.well-known/jwks.json"):
    router.add_api_route(_path, forward_to_auth, methods=FORWARDED_METHODS, include_in_schema=False)
for _path in ("/models", "/models/{rest:path}", "/v2", "/v2/{rest:path}"):
    router.add_api_route(
        _path, forward_to_models, methods=FORWARDED_METHODS, include_in_schema=False
    )
