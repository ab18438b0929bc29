"""Auth-service settings (`AUTH_*`)."""

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servir_runtime.settings import ServiceSettings

# Development default only: refused when SERVIR_ENV=production.
DEV_ADMIN_PASSWORD = "servir-dev-admin-NOT-FOR-PRODUCTION"

# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2


class Settings(ServiceSettings):
    """Everything the auth-service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="AUTH_")

    port: int = Field(default=8001, ge=0, le=65535)
    admin_username: str = "admin"
    admin_password: SecretStr = SecretStr(DEV_ADMIN_PASSWORD)

    issuer: str = "servir-auth"
    audience: str = "servir"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60, le=365 * 86400)

    keys_dir: Path = Path(".data/keys")
    signing_key: SecretStr | None = None
    active_key_id: str | None = None
    retired_key_ids: list[str] = Field(default_factory=list)
    generate_signing_key: bool | None = None

    argon2_memory_kib: int = Field(default=OWASP_MEMORY_KIB, ge=OWASP_MEMORY_KIB)
    argon2_time_cost: int = Field(default=OWASP_TIME_COST, ge=OWASP_TIME_COST)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)

    # Login throttling (Keycloak's brute-force detection, counted per account AND client IP so
    # that one address cannot lock an account out for everyone). A failed password check, at
    # the token endpoint or at POST /auth/me/password, counts against three budgets; over any
    # of them both answer 429 with Retry-After, even for the right password:
    # - one account from one client IP: `login_max_failures`, forgotten `login_window_seconds`
    #   after the last failure; reaching it locks that pair for `login_lockout_seconds`,
    #   doubled by every further failure up to `login_max_lockout_seconds`;
    # - one account from anywhere: `login_account_max_failures` per window;
    # - one client IP, any accounts (spraying): `login_ip_max_failures` per window.
    login_max_failures: int = Field(default=5, ge=1, le=100_000)
    login_account_max_failures: int = Field(default=100, ge=1, le=1_000_000)
    login_ip_max_failures: int = Field(default=50, ge=1, le=100_000)
    login_window_seconds: int = Field(default=900, ge=1, le=86400)
    login_lockout_seconds: int = Field(default=60, ge=1, le=86400)
    login_max_lockout_seconds: int = Field(default=900, ge=1, le=86400)
    max_api_keys_per_user: int = Field(default=10, ge=1, le=1000)
    users_page_max: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _refuse_development_admin(self) -> Self:
        if self.env == "production" and (
            self.admin_password.get_secret_value() == DEV_ADMIN_PASSWORD
            or len(self.admin_password.get_secret_value()) < 12
        ):
            msg = "AUTH_ADMIN_PASSWORD must be set (12+ characters, not the development default)"
            raise ValueError(msg)
        return self

    @property
    def may_generate_key(self) -> bool:
        """Generate a signing key when none exists: by default outside production only."""
        if self.generate_signing_key is None:
            return self.env != "production"
        return self.generate_signing_key
