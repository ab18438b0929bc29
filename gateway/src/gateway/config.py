"""Gateway settings (`GATEWAY_*`)."""

import json
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gateway.limits.clientip import parse_networks
from gateway.upstreams.balancer import upstream_origins
from servir_runtime.settings import ServiceSettings

RATE = r"^[1-9][0-9]*/[1-9][0-9]*$"


class Settings(ServiceSettings):
    """Everything the gateway reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    port: int = Field(default=8000, ge=0, le=65535)
    metrics_port: int = Field(default=9000, ge=0, le=65535)
    auth_service_url: str = "http://127.0.0.1:8001"
    model_service_url: str = "http://127.0.0.1:8002"
    connect_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    read_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Connections kept per upstream replica; an idle one is closed after idle seconds (under
    # uvicorn's own keep-alive timeout of 5 s, so the upstream never closes one in use).
    upstream_max_connections: int = Field(default=200, ge=1, le=10_000)
    upstream_idle_seconds: float = Field(default=4.0, gt=0, le=300)
    # Upstream URLs may list replicas (comma-separated); a host name is re-resolved this often,
    # each of its addresses a replica (e.g. `docker compose up --scale model-service=3`).
    upstream_resolve_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Passive health: a replica with this many consecutive connection failures is left out.
    upstream_eject_after: int = Field(default=2, ge=1, le=100)
    upstream_eject_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Circuit breaker per upstream: open after this many consecutive failures, for this long.
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_open_seconds: float = Field(default=5.0, gt=0, le=3600)
    readiness_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    retry_after_seconds: int = Field(default=1, ge=1, le=3600)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_in_flight: int = Field(default=1024, ge=1, le=1_000_000)
    # The request head (request line and headers): beyond either limit, 431 before anything
    # is read further or forwarded.
    max_header_bytes: int = Field(default=64 * 1024, ge=8 * 1024, le=1024 * 1024)
    max_headers: int = Field(default=100, ge=32, le=1000)
    # Slow or greedy clients (servir_runtime.uvicorn_private): the head must arrive within
    # HEAD seconds (408 or close), each body within BODY seconds of its head (uploads, POST
    # /models, within UPLOAD_BODY) or 408; an IP's connections beyond MAX_CONNECTIONS_PER_IP
    # (0: no cap; trusted proxies exempt) are closed at accept. An answer sent while the client
    # still sends is followed by a lingering close (nginx's lingering_time/_timeout).
    head_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    upload_body_timeout_seconds: float = Field(default=600.0, gt=0, le=86_400)
    max_connections_per_ip: int = Field(default=256, ge=0, le=1_000_000)
    linger_seconds: float = Field(default=30.0, ge=0, le=600)
    linger_idle_seconds: float = Field(default=5.0, gt=0, le=600)
    linger_max_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    # Upstream read timeout of uploads (POST /models): installing a large bundle takes longer.
    upload_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    # /openapi.json merges the upstreams' documents, refetched once older than this (so a new
    # model shows within about that long); an upstream that fails keeps its last good document.
    openapi_max_age_seconds: float = Field(default=1.0, ge=0, le=3600)
    openapi_timeout_seconds: float = Field(default=2.0, gt=0, le=60)

    # Rate limits, `<count>/<seconds>` (docs/api.md): per principal; per client IP on the token
    # endpoint, on other public writes (`/auth/revoke`), and on failed authentication (401s).
    # The client IP is the socket peer unless that peer is a trusted proxy.
    rate_limit_enabled: bool = True
    rate_limit_default: str = Field(default="6000/60", pattern=RATE)
    rate_limit_token: str = Field(default="30/60", pattern=RATE)
    rate_limit_public: str = Field(default="60/60", pattern=RATE)
    rate_limit_auth_failures: str = Field(default="60/60", pattern=RATE)
    rate_limit_max_local_keys: int = Field(default=100_000, ge=100, le=10_000_000)
    # The default policy only: each replica counts in process and reports to Redis every
    # SYNC_MS, admitting at most LOCAL_PERCENT of the quota before Redis has counted it; with R
    # replicas at most (R - 1) x that many beyond the quota per window. 0 ms: exact everywhere.
    rate_limit_sync_ms: int = Field(default=100, ge=0, le=10_000)
    rate_limit_local_percent: float = Field(default=1.0, gt=0, le=100)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Browsers may call from these origins (CORS); none by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_max_age_seconds: int = Field(default=600, ge=0, le=86_400)

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
    # Keys found inactive, remembered apart (a flood of them cannot evict active keys).
    api_key_negative_cache_seconds: float = Field(default=5.0, ge=0, le=30)
    api_key_negative_cache_max_entries: int = Field(default=10_000, ge=1, le=1_000_000)

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """`a,b` or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("auth_service_url", "model_service_url")
    @classmethod
    def _origins(cls, value: str) -> str:
        upstream_origins(value)  # refuse a malformed URL at start
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # a typo must stop the gateway, not trust nobody silently
        return value
