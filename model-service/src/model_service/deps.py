"""The only reader of `app.state` in the model-service."""

from typing import Annotated

from fastapi import Depends, Request

from model_service.config import Settings
from model_service.registry import Registry
from model_service.repository import ModelRepository
from servir_runtime.deps import RedisDep


async def get_registry(request: Request) -> Registry:
    """The models this replica serves."""
    registry: Registry = request.app.state.registry
    return registry


async def get_settings(request: Request) -> Settings:
    """The model-service's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_repository(request: Request) -> ModelRepository:
    """This replica's side of the shared model repository."""
    repository: ModelRepository = request.app.state.repository
    return repository


async def get_actor(request: Request) -> str:
    """Who asks, as the gateway names them (for the audit log)."""
    return request.headers.get("x-servir-principal") or "unknown"


RegistryDep = Annotated[Registry, Depends(get_registry)]
RepositoryDep = Annotated[ModelRepository, Depends(get_repository)]
ActorDep = Annotated[str, Depends(get_actor)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

__all__ = ["ActorDep", "RedisDep", "RegistryDep", "RepositoryDep", "SettingsDep"]
