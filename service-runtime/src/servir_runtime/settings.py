"""Settings every service shares; each service subclasses with its own env prefix."""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development default only: every service refuses to start with it when SERVIR_ENV=production.
DEV_INTERNAL_TOKEN = "servir-dev-internal-token-NOT-FOR-PRODUCTION"
MIN_SECRET_LENGTH = 32


class ServiceSettings(BaseSettings):
    """Fields common to the gateway, the auth-service and the model-service."""

    # Errors name the field and the rule, never the value: the values are often secrets, and a
    # refused production start would print them to its log.
    model_config = SettingsConfigDict(
        extra="ignore",
        validate_default=True,
        validate_by_name=True,
        hide_input_in_errors=True,
    )

    env: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="SERVIR_ENV"
    )
    internal_token: SecretStr = Field(
        default=SecretStr(DEV_INTERNAL_TOKEN), validation_alias="SERVIR_INTERNAL_TOKEN"
    )
    internal_token_file: Path | None = Field(
        default=None, validation_alias="SERVIR_INTERNAL_TOKEN_FILE"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis answers in well under a millisecond; a hung one must not hold a request (a login
    # must fail within 0.5 s), so this is short.
    redis_timeout_seconds: float = Field(default=0.3, gt=0, le=30)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log_sample: float = Field(default=0.01, ge=0, le=1)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)

    @model_validator(mode="after")
    def _load_secrets(self) -> Self:
        if self.internal_token_file is not None:
            token = self.internal_token_file.read_text(encoding="utf-8").strip()
            self.internal_token = SecretStr(token)
        if self.env == "production":
            self.refuse_development_secrets()
        return self

    def refuse_development_secrets(self) -> None:
        """Raise when a production service would run on a development default secret."""
        token = self.internal_token.get_secret_value()
        if token == DEV_INTERNAL_TOKEN or len(token) < MIN_SECRET_LENGTH:
            msg = "SERVIR_INTERNAL_TOKEN must be set to a secret of 32+ characters in production"
            raise ValueError(msg)
