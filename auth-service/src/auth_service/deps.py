"""The only reader of `app.state` in the auth-service."""

from shared_schemas.runtime.deps import RedisDep

__all__ = ["RedisDep"]
