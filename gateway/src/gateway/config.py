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
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_in_flight: int = Field(default=1024, ge=1, le=1_000_000)

    # Access tokens are verified here, against the auth-service's published keys.
    jwt_issuer: str = "servir-auth"
    jwt_audience: str = "servir"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwks_refresh_seconds: float = Field(default=300.0, gt=0, le=86_400)
    jwks_min_refetch_seconds: float = Field(default=5.0, ge=0, le=3600)
    # Tokens whose signature was already checked (see tokens.TokenVerifier).
    token_cache_max_entries: int = Field(default=10_000, ge=1, le=1_000_000)
    # The gateway's own calls to the auth-service (JWKS, introspection) must not hang a request.
    auth_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # A revoked or changed API key is seen at once through the revocation feed; the cache
    # only bounds how stale anything else (e.g. a scope change) may be.
    api_key_cache_seconds: float = Field(default=10.0, ge=0, le=30)
    api_key_stale_seconds: float = Field(default=300.0, ge=0, le=3600)
    api_key_cache_max_entries: int = Field(default=10_000, ge=1, le=1_000_000)
