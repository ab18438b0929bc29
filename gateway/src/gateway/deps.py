"""The only reader of the gateway's state (`GatewayState`, kept in the app by its lifespan)."""

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp

from gateway.config import Settings
from gateway.docs.current import MergedOpenAPI
from gateway.limits.ratelimit import RouteLimits
from gateway.state import GatewayState
from gateway.upstreams.upstream import Upstream
from servir_runtime.deps import RedisDep
from servir_runtime.state import service_state

# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
# a thread hop per request that cost the gateway most of its throughput.


def gateway_state(app: ASGIApp) -> GatewayState:
    """What the FastAPI app's lifespan built (a RuntimeError before it ran)."""
    return service_state(app, GatewayState)


async def get_settings(request: Request) -> Settings:
    """The gateway's settings."""
    return gateway_state(request.app).settings


async def get_auth_upstream(request: Request) -> Upstream:
    """The auth-service upstream."""
    return gateway_state(request.app).auth_upstream


async def get_model_upstream(request: Request) -> Upstream:
    """The model-service upstream."""
    return gateway_state(request.app).model_upstream


async def get_limits(request: Request) -> RouteLimits:
    """The rate limits (readiness reports their fallback)."""
    return gateway_state(request.app).proxy.limits


async def get_openapi(request: Request) -> MergedOpenAPI:
    """The merged OpenAPI document."""
    return gateway_state(request.app).openapi


SettingsDep = Annotated[Settings, Depends(get_settings)]
AuthUpstreamDep = Annotated[Upstream, Depends(get_auth_upstream)]
ModelUpstreamDep = Annotated[Upstream, Depends(get_model_upstream)]
LimitsDep = Annotated[RouteLimits, Depends(get_limits)]
OpenAPIDep = Annotated[MergedOpenAPI, Depends(get_openapi)]

__all__ = [
    "AuthUpstreamDep",
    "LimitsDep",
    "ModelUpstreamDep",
    "OpenAPIDep",
    "RedisDep",
    "SettingsDep",
    "gateway_state",
]
