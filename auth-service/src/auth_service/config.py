"""Auth-service settings (`AUTH_*`)."""

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared_schemas.runtime.settings import ServiceSettings

# Development default only: refused when SERVIR_ENV=production.
DEV_ADMIN_PASSWORD = "servir-dev-admin-NOT-FOR-PRODUCTION"  # noqa: S105


class Settings(ServiceSettings):
    """Everything the auth-service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="AUTH_")

    port: int = Field(default=8001, ge=0, le=65535)
    admin_username: str = "admin"
    admin_password: SecretStr = SecretStr(DEV_ADMIN_PASSWORD)

    @model_validator(mode="after")
    def _refuse_development_admin(self) -> Self:
        if self.env == "production" and (
            self.admin_password.get_secret_value() == DEV_ADMIN_PASSWORD
        ):
            msg = "AUTH_ADMIN_PASSWORD must be set (not the development default) in production"
            raise ValueError(msg)
        return self
