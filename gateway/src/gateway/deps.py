"""The only reader of `app.state` in the gateway."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.config import Settings
from gateway.ratelimit import RouteLimits
from gateway.upstream import Upstream
from servir_runtime.deps import RedisDep

# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
# a thread hop per request that cost the gateway most of its throughput.


async def get_settings(request: Request) -> Settings:
    """The gateway's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_auth_upstream(request: Request) -> Upstream:
    """The auth-service upstream."""
    upstream: Upstream = request.app.state.auth_upstream
    return upstream


async def get_model_upstream(request: Request) -> Upstream:
    """The model-service upstream."""
    upstream: Upstream = request.app.state.model_upstream
    return upstream


async def get_limits(request: Request) -> RouteLimits:
    """The rate limits (readiness reports their fallback)."""
    limits: RouteLimits = request.app.state.proxy.limits
    return limits


SettingsDep = Annotated[Settings, Depends(get_settings)]
AuthUpstreamDep = Annotated[Upstream, Depends(get_auth_upstream)]
ModelUpstreamDep = Annotated[Upstream, Depends(get_model_upstream)]
LimitsDep = Annotated[RouteLimits, Depends(get_limits)]

__all__ = [
    "AuthUpstreamDep",
    "LimitsDep",
    "ModelUpstreamDep",
    "RedisDep",
    "SettingsDep",
]
