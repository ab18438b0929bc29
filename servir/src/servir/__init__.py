"""Servir for data scientists: save a model as a bundle, push it, predict with it.

`import servir` stays light: the client needs httpx only, and `save_model` (scikit-learn,
skops, pandas: the `bundle` extra) is imported from servir.bundle when first used.
"""

import importlib
from typing import Any

from servir.client import AsyncClient, Client
from servir.errors import (
    ApiError,
    BundleError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    ServerError,
    ServirError,
    Unauthorized,
    UnexpectedResponse,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "BundleError",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "Invalid",
    "NotFound",
    "RateLimited",
    "ServerError",
    "ServirError",
    "Unauthorized",
    "UnexpectedResponse",
    "save_model",
]


def __getattr__(name: str) -> Any:
    if name == "save_model":
        # Imported on first use: it brings scikit-learn, skops and pandas (the bundle extra).
        return importlib.import_module("servir.bundle").save_model
    raise AttributeError(f"module 'servir' has no attribute {name!r}")
