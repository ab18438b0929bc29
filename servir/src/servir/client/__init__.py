"""Servir's API from Python: `Client` (blocking) and `AsyncClient`, one core under both."""

from servir.client.aio import AsyncClient
from servir.client.core import Credentials
from servir.client.sync import Client

__all__ = ["AsyncClient", "Client", "Credentials"]
