"""The one typed way to what a service's lifespan builds.

Each service keeps one dataclass of its own (its settings, Redis client, registry, upstreams...)
in the app; readers ask for it by type, so no reader re-annotates `app.state` by hand and a
reader that runs before the lifespan fails loudly instead of with an AttributeError. The
runtime's own Redis client (every service has one) is read the same way, by `service_redis`.
"""

from typing import TypeVar

from redis.asyncio import Redis
from starlette.datastructures import State
from starlette.types import ASGIApp

Kind = TypeVar("Kind")
_SLOT = "service"


def keep_state(app: ASGIApp, state: object) -> None:
    """Keep `state` as the app's service state (the lifespan calls this once)."""
    _state_of(app).service = state


def service_state(app: ASGIApp, kind: type[Kind]) -> Kind:
    """The app's service state, checked to be a `kind`."""
    state = getattr(_state_of(app), _SLOT, None)
    if not isinstance(state, kind):
        raise RuntimeError(f"{kind.__name__} is not set: the service's lifespan has not run")
    return state


def service_redis(app: ASGIApp) -> Redis:
    """The Redis client the runtime's lifespan opened (servir_runtime.app)."""
    redis = getattr(_state_of(app), "redis", None)
    if not isinstance(redis, Redis):
        raise RuntimeError("Redis is not set: the service's lifespan has not run")
    return redis


def _state_of(app: ASGIApp) -> State:
    state = getattr(app, "state", None)
    if not isinstance(state, State):
        raise TypeError(f"{type(app).__name__} keeps no state")
    return state
