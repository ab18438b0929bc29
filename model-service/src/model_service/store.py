"""Temporary: `broadcast.py`'s import path for the store, until broadcast moves into
`repository/` and imports `model_service.repository.store` (issue 12); delete it then."""

from model_service.repository.store import ModelStore

__all__ = ["ModelStore"]
