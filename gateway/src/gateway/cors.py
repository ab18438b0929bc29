"""CORS for the origins `GATEWAY_CORS_ORIGINS` lists (docs/api.md): bearer tokens or API keys from
the browser, never cookies."""

from typing import Any

from gateway.config import Settings


def cors_options(settings: Settings) -> dict[str, Any]:
    """Starlette CORSMiddleware's options for these settings."""
    return {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "HEAD", "POST", "PATCH", "DELETE"],
        "allow_headers": [
            "Authorization",
            "Content-Type",
            "X-API-Key",
            "X-Request-ID",
            "Inference-Header-Content-Length",
        ],
        "expose_headers": [
            "X-Request-ID",
            "RateLimit",
            "RateLimit-Policy",
            "Retry-After",
            "WWW-Authenticate",
            "Inference-Header-Content-Length",
        ],
        "allow_credentials": False,
        "max_age": settings.cors_max_age_seconds,
    }
