"""The only reader of the model-service's state (the lifespan keeps it)."""

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp

from model_service.config import Settings
from model_service.inference import DataPlane
from model_service.models.registry import Registry
from model_service.repository.repository import ModelRepository
from model_service.state import ServiceState
from servir_runtime.deps import RedisDep
from servir_runtime.state import service_state


def state_of(app: ASGIApp) -> ServiceState:
    """The running service's state (a RuntimeError before the lifespan has built it)."""
    return service_state(app, ServiceState)


def registry_if_started(app: ASGIApp) -> Registry | None:
    """The registry, or None while the lifespan has not built it."""
    try:
        return state_of(app).registry
    except RuntimeError:
        return None


async def get_plane(request: Request) -> DataPlane:
    """Inference over the models this replica serves."""
    return state_of(request.app).plane


async def get_registry(request: Request) -> Registry:
    """The models this replica serves."""
    return state_of(request.app).registry


async def get_settings(request: Request) -> Settings:
    """The model-service's settings."""
    return state_of(request.app).settings


async def get_repository(request: Request) -> ModelRepository:
    """This replica's side of the shared model repository."""
    return state_of(request.app).repository


async def get_actor(request: Request) -> str:
    """Who asks, as the gateway names them (for the audit log)."""
    return request.headers.get("x-servir-principal") or "unknown"


PlaneDep = Annotated[DataPlane, Depends(get_plane)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
RepositoryDep = Annotated[ModelRepository, Depends(get_repository)]
ActorDep = Annotated[str, Depends(get_actor)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

__all__ = ["ActorDep", "PlaneDep", "RedisDep", "RegistryDep", "RepositoryDep", "SettingsDep"]
