"""Model-service settings (`MODEL_*`)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared_schemas.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything the model-service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="MODEL_")

    port: int = Field(default=8002, ge=0, le=65535)
    models_dir: Path = Path("models")
    max_rows: int = Field(default=1000, ge=1, le=1_000_000)
