"""The only reader of `app.state` in the model-service."""

from typing import Annotated

from fastapi import Depends, Request

from model_service.config import Settings
from model_service.registry import Registry
from shared_schemas.runtime.deps import RedisDep


async def get_registry(request: Request) -> Registry:
    """The models this replica serves."""
    registry: Registry = request.app.state.registry
    return registry


async def get_settings(request: Request) -> Settings:
    """The model-service's settings."""
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

__all__ = ["RedisDep", "RegistryDep", "SettingsDep"]
