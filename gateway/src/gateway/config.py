"""Gateway settings (`GATEWAY_*`)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared_schemas.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything the gateway reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    port: int = Field(default=8000, ge=0, le=65535)
    metrics_port: int = Field(default=9000, ge=0, le=65535)
    auth_service_url: str = "http://127.0.0.1:8001"
    model_service_url: str = "http://127.0.0.1:8002"
    connect_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    read_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    upstream_max_connections: int = Field(default=200, ge=1, le=10_000)
    readiness_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    retry_after_seconds: int = Field(default=1, ge=1, le=3600)
