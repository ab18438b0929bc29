"""What the model-service's lifespan builds, kept in one typed place (`deps` reads it)."""

from dataclasses import dataclass

from model_service.config import Settings
from model_service.inference import DataPlane
from model_service.models.registry import Registry
from model_service.models.workers import InferencePool
from model_service.repository.repository import ModelRepository


@dataclass(frozen=True)
class ServiceState:
    """The running service: its settings, inference threads, models and repository."""

    settings: Settings
    pool: InferencePool
    registry: Registry
    repository: ModelRepository
    plane: DataPlane
