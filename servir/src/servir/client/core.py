"""What the sync and the async client share: the requests they send and how answers are read.

An operation is a generator (`Op`): it yields each `Call` it needs sent and receives the
`httpx.Response`; its return value is the operation's result. `Client` drives it with a blocking
httpx client, `AsyncClient` with an async one; everything else (credentials, refreshing an
expired token once, parsing answers, raising typed errors) lives here, written once.
"""

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from servir.errors import (
    ConnectionFailed,
    RateLimited,
    Unauthorized,
    UnexpectedResponse,
    error_class,
)

T = TypeVar("T")

TOKEN_PATH = "/auth/token"
REVOKE_PATH = "/auth/revoke"
# Refresh this long before the access token's stated expiry, so a request never races it.
EXPIRY_MARGIN_SECONDS = 10.0
USER_AGENT = "servir-client"


@dataclass(frozen=True)
class Call:
    """One HTTP request an operation needs: everything but the credential and the base URL."""

    method: str
    path: str
    json: Any = None
    form: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    params: Mapping[str, str | int] | None = None
    # Public routes (the token endpoints) are sent without a credential.
    authenticated: bool = True


Op = Generator[Call, httpx.Response, T]


@dataclass
class Credentials:
    """What the client authenticates with. A password login holds a refresh token, so an
    expired access token is renewed once, transparently."""

    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str = field(default="")

    def headers(self) -> dict[str, str]:
        """The credential header: an API key, or a bearer token (the stack refuses both)."""
        if self.api_key:
            return {"X-API-Key": self.api_key}
        if self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        return {}

    def expired(self) -> bool:
        """True when the access token is (nearly) past its expiry and can be refreshed."""
        if self.refresh_token is None or self.api_key:
            return False
        if self.access_token is None:
            return True  # resumed from a stored refresh token
        if self.expires_at is None:
            return False
        return time.time() >= self.expires_at - EXPIRY_MARGIN_SECONDS


def build(
    client: httpx.Client | httpx.AsyncClient, call: Call, creds: Credentials
) -> httpx.Request:
    """The httpx request for `call`, with the credential when the route needs one."""
    headers = creds.headers() if call.authenticated else {}
    return client.build_request(
        call.method,
        call.path,
        json=call.json,
        data=dict(call.form) if call.form is not None else None,
        files=dict(call.files) if call.files is not None else None,
        params=dict(call.params) if call.params is not None else None,
        headers=headers,
    )


def connection_failed(error: httpx.TransportError, base_url: str) -> ConnectionFailed:
    """A network failure as the user reads it (no traceback, the server named)."""
    if isinstance(error, httpx.TimeoutException):
        return ConnectionFailed(f"{base_url} did not answer in time ({type(error).__name__})")
    return ConnectionFailed(f"cannot reach {base_url}: {error}")


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the typed ApiError of an error answer; do nothing for a success."""
    if response.status_code < 400:
        return
    body = _body(response)
    status = response.status_code
    if "error" in body and "title" not in body:
        # RFC 6749 (the token endpoint): a refused login is an authentication failure.
        code = str(body.get("error"))
        kind = Unauthorized if code == "invalid_grant" else error_class(status)
        detail = str(body.get("error_description") or code)
        raise kind(status, code, detail, problem=body)
    title = str(body.get("title") or response.reason_phrase or "Error")
    detail = str(body.get("detail") or "")
    errors = body.get("errors") if isinstance(body.get("errors"), list) else None
    error = error_class(status)(status, title, detail, errors=errors, problem=body)
    if isinstance(error, RateLimited):
        error.retry_after = _seconds(response.headers.get("Retry-After"))
    raise error


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# Building an adapter costs more than a small answer's parsing: one per result type.
_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _adapter(kind: type[T]) -> TypeAdapter[T]:
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def parsed(response: httpx.Response, kind: type[T]) -> T:
    """The answer's body as `kind` (a contract, or a list of them), after raising for errors."""
    raise_for_problem(response)
    try:
        result: T = _adapter(kind).validate_json(response.content)
    except ValidationError as error:
        where = f"{response.request.method} {response.request.url.path}"
        raise UnexpectedResponse(
            f"the answer to {where} does not fit this client ({error.error_count()} problems, "
            f"first: {error.errors()[0]['msg']}); is servir as recent as the server?"
        ) from None
    return result


def empty(response: httpx.Response) -> None:
    """Raise for an error answer; the body of a success is ignored."""
    raise_for_problem(response)
