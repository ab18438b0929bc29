"""The calls the gateway makes to the auth-service on its own behalf: JWKS and introspection."""

from typing import TypeVar
from urllib.parse import urlencode

from pydantic import ValidationError

from gateway.errors import BadUpstreamReply
from gateway.upstreams.upstream import INTERNAL_TOKEN, REQUEST_ID, Headers, Upstream
from servir_runtime.context import request_id_var
from shared_schemas.auth import Introspection, Jwks

JWKS_PATH = "/.well-known/jwks.json"
INTROSPECT_PATH = "/internal/introspect"
FORM = (b"content-type", b"application/x-www-form-urlencoded")
NO_REQUEST = "-"  # request_id_var outside a request (a background refresh)

Reply = TypeVar("Reply", Jwks, Introspection)


class AuthService:
    """The auth-service as the gateway's own client; failures raise the upstream errors
    (503 unreachable, 504 timeout, 502 bad reply), as a forwarded request would."""

    def __init__(self, *, upstream: Upstream, internal_token: str, timeout: float) -> None:
        self.upstream = upstream
        self.internal_token = internal_token.encode()
        self.timeout = timeout

    async def jwks(self) -> Jwks:
        """The published signing keys."""
        body = await self._call("GET", JWKS_PATH, [], b"")
        return _parse(Jwks, body, what="JWKS")

    async def introspect(self, token: str) -> Introspection:
        """RFC 7662 introspection of a token or API key."""
        body = urlencode({"token": token}).encode()
        reply = await self._call("POST", INTROSPECT_PATH, [FORM], body)
        return _parse(Introspection, reply, what="introspection")

    async def _call(self, method: str, target: str, headers: Headers, body: bytes) -> bytes:
        headers = [*headers, (INTERNAL_TOKEN, self.internal_token)]
        request_id = request_id_var.get()
        if request_id != NO_REQUEST:
            # Ties the auth-service's log line to the request that caused the call.
            headers.append((REQUEST_ID, request_id.encode()))
        reply = await self.upstream.forward(
            method=method,
            target=target,
            headers=headers,
            body=body,
            wait_seconds=self.timeout,
        )
        if reply.status != 200:
            raise BadUpstreamReply(f"The auth-service answered {reply.status} to {target}.")
        return reply.body


def _parse(model: type[Reply], body: bytes, *, what: str) -> Reply:
    try:
        return model.model_validate_json(body)
    except ValidationError:
        raise BadUpstreamReply(f"The auth-service sent an invalid {what}.") from None
