"""Who is calling, and may they: credentials from the headers, then the route's rule.

Every 401 counts against the client IP (`FailedAuthLimit`); an address over its budget gets
429 before its credential is read, unless that credential was verified here before (checking
it again costs nothing, and a neighbour behind the same NAT keeps working).
"""

import re
from typing import Literal

from gateway.auth.access import PUBLIC, Principal, known_scopes, missing_scope, required_access
from gateway.auth.apikeys import ApiKeyVerifier
from gateway.auth.authfailures import FailedAuthLimit
from gateway.auth.revocations import RevocationMirror
from gateway.auth.tokens import TokenVerifier
from gateway.errors import InsufficientScope, InvalidToken, Unauthenticated

Headers = list[tuple[bytes, bytes]]
Credential = tuple[Literal["bearer", "api_key"], str]

AUTHORIZATION = b"authorization"
API_KEY = b"x-api-key"
BEARER = "bearer"
# Names travel downstream in a header: printable ASCII only, never a line break.
SAFE_NAME = re.compile(r"^[\x21-\x7e]{1,256}$")


class Authenticator:
    """Admits a request to a route: a bearer token or an API key, then a scope check."""

    def __init__(
        self,
        *,
        tokens: TokenVerifier,
        api_keys: ApiKeyVerifier,
        mirror: RevocationMirror,
        failures: FailedAuthLimit,
    ) -> None:
        self.tokens = tokens
        self.api_keys = api_keys
        self.mirror = mirror
        self.failures = failures

    async def admit(
        self, *, method: str, path: str, headers: Headers, client_ip: str | None
    ) -> Principal | None:
        """The caller's principal, or None on a public route; 401/403 when refused, 429 when
        `client_ip` failed too often."""
        requirement = required_access(method, path)
        if requirement == PUBLIC:
            return None
        refusal = self.failures.refusal(client_ip)
        if refusal is not None and not self.remembered(headers):
            raise self.failures.refuse(refusal)
        principal = await self._authenticate_counted(headers, client_ip)
        scope = missing_scope(principal, requirement)
        if scope is not None:
            raise InsufficientScope(scope)
        return principal

    def remembered(self, headers: Headers) -> bool:
        """Whether the request's credential was verified here before."""
        try:
            kind, secret = presented_credential(headers)
        except Unauthenticated:
            return False
        if kind == "bearer":
            return self.tokens.remembered(secret)
        return self.api_keys.remembered(secret)

    async def _authenticate_counted(self, headers: Headers, client_ip: str | None) -> Principal:
        """`authenticate`, counting a 401 against the client IP (429 once over its budget)."""
        try:
            return await self.authenticate(headers)
        except Unauthenticated as exc:
            decision = await self.failures.failed(client_ip)
            if decision is None:
                raise
            if not decision.allowed:
                raise self.failures.refuse(decision) from None
            exc.headers.update((key.decode(), value.decode()) for key, value in decision.headers())
            raise

    async def authenticate(self, headers: Headers) -> Principal:
        """The principal a bearer token or an API key names."""
        kind, secret = presented_credential(headers)
        if kind == "bearer":
            principal = await self._from_token(secret)
        else:
            principal = await self.api_keys.verify(secret)
        if not SAFE_NAME.match(principal.name):
            raise InvalidToken("The credential names an invalid principal.")
        return principal

    async def _from_token(self, token: str) -> Principal:
        claims = await self.tokens.verify(token)
        if self.mirror.token_revoked(jti=claims.jti, username=claims.sub, issued_at=claims.iat):
            raise InvalidToken("The access token has been revoked.")
        return Principal(name=claims.sub, username=claims.sub, scopes=known_scopes(claims.scope))


def presented_credential(headers: Headers) -> Credential:
    """The bearer token or the API key of a request (exactly one), else 401.

    An Authorization header of another scheme (Swagger UI's Basic) is no credential here.
    """
    authorizations, api_keys = [], []
    for key, value in headers:  # one pass: this runs on every authenticated request
        if key == AUTHORIZATION:
            authorizations.append(value)
        elif key == API_KEY:
            api_keys.append(value)
    bearers = [value for value in authorizations if _scheme(value) == BEARER]
    if len(authorizations) > 1 or len(api_keys) > 1 or (bearers and api_keys):
        detail = "Send one credential: a bearer token or an API key."
        raise Unauthenticated(detail, error="invalid_request")
    if bearers:
        return "bearer", _text(bearers[0].partition(b" ")[2].strip())
    if api_keys:
        return "api_key", _text(api_keys[0].strip())
    if authorizations:
        raise Unauthenticated("Authorization must use the Bearer scheme, or send X-API-Key.")
    raise Unauthenticated("This request needs a bearer token or an API key.")


def _scheme(value: bytes) -> str:
    return value.partition(b" ")[0].decode("latin-1").lower()


def _text(value: bytes) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidToken("The credential is not ASCII.") from None
