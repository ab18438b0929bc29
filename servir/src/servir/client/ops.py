"""Every operation of the API, once, as generators the sync and the async client both drive."""

import importlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from servir.client import rows as rowmod
from servir.client.core import REVOKE_PATH, TOKEN_PATH, Call, Credentials, Op, empty, parsed
from servir.client.v2 import infer_body
from servir.errors import ServirError
from shared_schemas.auth import (
    ApiKey,
    ApiKeyCreated,
    Me,
    TokenResponse,
    User,
    UserPage,
)
from shared_schemas.inference import (
    ModelMetadata,
    ModelSummary,
    PredictResponse,
    TrafficSplit,
    V2InferenceResponse,
)

T = TypeVar("T")
TARBALL_SUFFIXES = (".tar.gz", ".tgz")


def _q(part: str) -> str:
    return quote(part, safe="")


class Operations:
    """The API's operations over one set of credentials (which login and refresh update)."""

    def __init__(self, creds: Credentials) -> None:
        self.creds = creds

    def send(self, call: Call) -> Op[httpx.Response]:
        """Send `call`; after a password login, renew an expired access token first, or once
        after a 401 (revoked, or expired early)."""
        if call.authenticated and self.creds.expired():
            yield from self.refresh()
        response = yield call
        renewable = call.authenticated and self.creds.refresh_token and not self.creds.api_key
        if response.status_code == 401 and renewable:
            yield from self.refresh()
            response = yield call
        return response

    def fetch(self, call: Call, kind: type[T]) -> Op[T]:
        response = yield from self.send(call)
        return parsed(response, kind)

    def act(self, call: Call) -> Op[None]:
        response = yield from self.send(call)
        empty(response)

    # Sign-in ---------------------------------------------------------------------------
    def _token(self, form: dict[str, str]) -> Op[TokenResponse]:
        response = yield Call("POST", TOKEN_PATH, form=form, authenticated=False)
        token: TokenResponse = parsed(response, TokenResponse)
        self.creds.api_key = None
        self.creds.access_token = token.access_token
        self.creds.refresh_token = token.refresh_token
        self.creds.expires_at = time.time() + token.expires_in
        self.creds.scope = token.scope
        return token

    def login(self, username: str, password: str, scope: str | None = None) -> Op[TokenResponse]:
        form = {"grant_type": "password", "username": username, "password": password}
        if scope:
            form["scope"] = scope
        return (yield from self._token(form))

    def refresh(self) -> Op[TokenResponse]:
        if not self.creds.refresh_token:
            raise ServirError("no refresh token: log in with a password first")
        form = {"grant_type": "refresh_token", "refresh_token": self.creds.refresh_token}
        return (yield from self._token(form))

    def logout(self) -> Op[None]:
        # Revoking the refresh token revokes its family and the access tokens issued from it.
        token = self.creds.refresh_token or self.creds.access_token or self.creds.api_key
        if token:
            response = yield Call("POST", REVOKE_PATH, form={"token": token}, authenticated=False)
            empty(response)
        self.creds.access_token = self.creds.refresh_token = self.creds.api_key = None
        self.creds.expires_at = None

    def me(self) -> Op[Me]:
        return (yield from self.fetch(Call("GET", "/auth/me"), Me))

    # API keys --------------------------------------------------------------------------
    def create_api_key(
        self, name: str, scopes: Sequence[str] | None, expires_in_days: int | None
    ) -> Op[ApiKeyCreated]:
        body: dict[str, Any] = {"name": name}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return (yield from self.fetch(Call("POST", "/auth/api-keys", json=body), ApiKeyCreated))

    def api_keys(self) -> Op[list[ApiKey]]:
        return (yield from self.fetch(Call("GET", "/auth/api-keys"), list[ApiKey]))

    def revoke_api_key(self, key_id: str) -> Op[None]:
        yield from self.act(Call("DELETE", f"/auth/api-keys/{_q(key_id)}"))

    # Users -----------------------------------------------------------------------------
    def users(self, limit: int, offset: int) -> Op[UserPage]:
        call = Call("GET", "/auth/users", params={"limit": limit, "offset": offset})
        return (yield from self.fetch(call, UserPage))

    def create_user(self, username: str, password: str, scopes: Sequence[str] | None) -> Op[User]:
        body: dict[str, Any] = {"username": username, "password": password}
        if scopes is not None:
            body["scopes"] = list(scopes)
        return (yield from self.fetch(Call("POST", "/auth/users", json=body), User))

    def update_user(self, username: str, changes: dict[str, Any]) -> Op[User]:
        call = Call("PATCH", f"/auth/users/{_q(username)}", json=changes)
        return (yield from self.fetch(call, User))

    def delete_user(self, username: str) -> Op[None]:
        yield from self.act(Call("DELETE", f"/auth/users/{_q(username)}"))

    # Models ----------------------------------------------------------------------------
    def models(self) -> Op[list[ModelSummary]]:
        return (yield from self.fetch(Call("GET", "/models"), list[ModelSummary]))

    def model(self, name: str) -> Op[ModelMetadata]:
        return (yield from self.fetch(Call("GET", f"/models/{_q(name)}"), ModelMetadata))

    def push(self, source: str | Path) -> Op[ModelMetadata]:
        filename, archive = bundle_archive(Path(source))
        files = {"bundle": (filename, archive, "application/gzip")}
        return (yield from self.fetch(Call("POST", "/models", files=files), ModelMetadata))

    def repository(self, name: str, action: str) -> Op[None]:
        yield from self.act(Call("POST", f"/v2/repository/models/{_q(name)}/{action}"))

    def delete(self, name: str, version: str) -> Op[None]:
        yield from self.act(Call("DELETE", f"/models/{_q(name)}/versions/{_q(version)}"))

    def set_alias(self, name: str, alias: str, version: str, public: bool) -> Op[ModelMetadata]:
        path = f"/models/{_q(name)}/aliases/{_q(alias)}"
        body = {"version": version, "public": public}
        return (yield from self.fetch(Call("PUT", path, json=body), ModelMetadata))

    def remove_alias(self, name: str, alias: str) -> Op[None]:
        yield from self.act(Call("DELETE", f"/models/{_q(name)}/aliases/{_q(alias)}"))

    def traffic(self, name: str, body: TrafficSplit | None = None) -> Op[TrafficSplit]:
        """GET the model's split, or PUT `body`."""
        json = body.model_dump(mode="json") if body is not None else None
        call = Call("GET" if body is None else "PUT", f"/models/{_q(name)}/traffic", json=json)
        return (yield from self.fetch(call, TrafficSplit))

    def clear_traffic(self, name: str) -> Op[None]:
        yield from self.act(Call("DELETE", f"/models/{_q(name)}/traffic"))

    def predict(
        self, name: str, rows: object, version: str | None, probabilities: bool
    ) -> Op[PredictResponse]:
        features = (yield from self.model(name)).features if rowmod.needs_features(rows) else None
        body = {
            "instances": rowmod.instances(rows, features),
            "return_probabilities": probabilities,
        }
        path = f"/models/{_q(name)}" + (f"/versions/{_q(version)}" if version else "")
        return (yield from self.fetch(Call("POST", f"{path}/predict", json=body), PredictResponse))

    def infer(
        self, name: str, inputs: object, version: str | None, outputs: Sequence[str] | None
    ) -> Op[V2InferenceResponse]:
        path = f"/v2/models/{_q(name)}" + (f"/versions/{_q(version)}" if version else "")
        call = Call("POST", f"{path}/infer", json=infer_body(inputs, outputs))
        return (yield from self.fetch(call, V2InferenceResponse))


def bundle_archive(source: Path) -> tuple[str, bytes]:
    """A bundle to upload: a .tar.gz as it is, or a folder packed by servir.packing."""
    if source.is_dir():
        # servir.packing is imported by name: it packs folders the way the service unpacks.
        packing = importlib.import_module("servir.packing")
        archive: bytes = packing.pack(source)
        return f"{source.name}.tar.gz", archive
    if source.is_file() and source.name.endswith(TARBALL_SUFFIXES):
        return source.name, source.read_bytes()
    raise ServirError(f"{source} is neither a bundle folder nor a .tar.gz bundle")
