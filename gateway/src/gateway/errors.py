"""The gateway's own errors; the shared handler renders them as problem+json."""

import orjson
from starlette.responses import Response

from gateway.routing.lookup import TABLE
from servir_runtime.problems import ServiceError
from shared_schemas.problems import OAuthError, OAuthErrorCode


class BadPath(ServiceError):
    """A path the gateway will not forward (dot segments, malformed bytes)."""

    status = 404
    title = "Not Found"


class BadUpstreamReply(ServiceError):
    """The upstream answered with something that is not valid HTTP."""

    status = 502
    title = "Bad Gateway"


class Unavailable(ServiceError):
    """503: the caller may retry after `Retry-After` seconds."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class UpstreamUnavailable(Unavailable):
    """The upstream could not be reached, or its circuit is open."""


class UpstreamTimeout(ServiceError):
    """The upstream did not answer in time."""

    status = 504
    title = "Gateway Timeout"


REALM = 'Bearer realm="servir"'


class Unauthenticated(ServiceError):
    """No usable credential: 401 with an RFC 6750 challenge.

    `error` is `invalid_token` when a credential was presented but is bad, `invalid_request`
    when the request itself is malformed (two credentials at once), and absent when none came.
    """

    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str, *, error: str | None = None) -> None:
        challenge = REALM if error is None else f'{REALM}, error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class InvalidToken(Unauthenticated):
    """A presented token or API key that is unknown, forged, expired or revoked."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_token")


class InsufficientScope(ServiceError):
    """The caller is known but lacks the scope the route needs."""

    status = 403
    title = "Forbidden"

    def __init__(self, scope: str) -> None:
        challenge = f'{REALM}, error="insufficient_scope", scope="{scope}"'
        super().__init__(
            f"This request needs the scope {scope}.", headers={"WWW-Authenticate": challenge}
        )


class Overloaded(Unavailable):
    """More requests in flight than the gateway takes: refused at once, not queued."""


class RateLimited(ServiceError):
    """Over a rate limit: 429 with the policy's headers and `Retry-After`."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(
            "Too many requests; retry after the time in Retry-After.",
            headers={key.decode(): value.decode() for key, value in headers},
        )


def error_response(exc: ServiceError, *, method: str, path: str) -> Response:
    """problem+json; on the token endpoint RFC 6749's error body, as the auth-service's own
    errors there (docs/api.md): a refusal is `invalid_request`, a failure upstream
    `temporarily_unavailable`."""
    route = TABLE.place(path).route(method)
    if route is None or not route.oauth_errors:
        return exc.response(path)
    code: OAuthErrorCode = "temporarily_unavailable" if exc.status >= 500 else "invalid_request"
    body = OAuthError(error=code, error_description=exc.detail)
    return Response(
        orjson.dumps(body.model_dump(exclude_none=True)),
        status_code=exc.status,
        media_type="application/json",
        headers={**exc.headers, "Cache-Control": "no-store"},
    )
