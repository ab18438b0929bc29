"""Temporary: `broadcast.py`'s import path for the registry, until broadcast moves into
`repository/` and imports `model_service.models.registry` (issue 12); delete it then."""

from model_service.models.registry import Registry

__all__ = ["Registry"]
