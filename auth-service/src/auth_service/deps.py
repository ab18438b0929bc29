"""The only reader of the auth-service's state (`AuthState`), and the caller's identity."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from auth_service.config import Settings
from auth_service.errors import Forbidden, Unauthorized
from auth_service.passwords import Passwords
from auth_service.signing import KeyRing
from auth_service.state import AuthState
from servir_runtime.deps import RedisDep
from servir_runtime.state import service_state

KEY_PRINCIPAL_PREFIX = "key:"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the gateway vouches in X-Servir-Principal / X-Servir-Scopes."""

    name: str
    scopes: frozenset[str]

    @property
    def key_id(self) -> str | None:
        """The API key id when the caller used an API key."""
        return self.name.removeprefix(KEY_PRINCIPAL_PREFIX) if self.is_api_key else None

    @property
    def is_api_key(self) -> bool:
        """True when the caller authenticated with an API key."""
        return self.name.startswith(KEY_PRINCIPAL_PREFIX)


async def get_settings(request: Request) -> Settings:
    """The auth-service's settings."""
    return service_state(request.app, AuthState).settings


async def get_keys(request: Request) -> KeyRing:
    """The signing keys."""
    return service_state(request.app, AuthState).keys


async def get_passwords(request: Request) -> Passwords:
    """The password hasher."""
    return service_state(request.app, AuthState).passwords


async def get_principal(request: Request) -> Principal:
    """The caller; 401 when the gateway sent no identity."""
    name = request.headers.get("x-servir-principal")
    if not name:
        raise Unauthorized("This route needs an authenticated caller.")
    scopes = frozenset(request.headers.get("x-servir-scopes", "").split())
    return Principal(name=name, scopes=scopes)


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, who must hold users:admin."""
    if "users:admin" not in principal.scopes:
        raise Forbidden("This route needs the users:admin scope.")
    return principal


async def get_client_ip(request: Request) -> str:
    """The client's IP as the gateway saw it (else the direct peer)."""
    forwarded = request.headers.get("x-servir-client-ip")
    if forwarded:
        return forwarded
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[KeyRing, Depends(get_keys)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(get_admin)]
ClientIpDep = Annotated[str, Depends(get_client_ip)]

__all__ = [
    "AdminDep",
    "ClientIpDep",
    "KeysDep",
    "PasswordsDep",
    "PrincipalDep",
    "RedisDep",
    "SettingsDep",
]
