"""The auth-service's errors: problem+json for the API, RFC 6749 bodies for the token endpoint."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError

from servir_runtime.problems import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    problem_response,
)
from shared_schemas.problems import FieldError, OAuthErrorCode

TOKEN_PATH = "/auth/token"
RETRY_AFTER = "1"


class Unauthorized(ServiceError):
    """No identity came with the request."""

    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="servir"'})


class BadRequest(ServiceError):
    """The request is well formed but cannot be honoured."""

    status = 400
    title = "Bad Request"


class InvalidField(ServiceError):
    """A field's value is refused (422 naming the field)."""

    status = 422
    title = "Unprocessable Content"

    def __init__(self, detail: str, *, loc: list[str | int]) -> None:
        super().__init__(detail)
        self.loc = loc


class TooManyAttempts(ServiceError):
    """Too many failed password checks: refused unchecked (429 + Retry-After)."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, retry_after: int) -> None:
        detail = f"Too many failed attempts; retry after {retry_after} seconds."
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class OAuthFailure(Exception):
    """An RFC 6749 section 5.2 error of the token endpoint."""

    def __init__(
        self,
        error: OAuthErrorCode,
        description: str,
        *,
        status: int = 400,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.retry_after = retry_after


def oauth_response(failure: OAuthFailure) -> JSONResponse:
    """The RFC 6749 error body, never cached."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if failure.retry_after is not None:
        headers["Retry-After"] = str(failure.retry_after)
    body = {"error": failure.error, "error_description": failure.description}
    return JSONResponse(body, status_code=failure.status, headers=headers)


async def _on_oauth_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthFailure)
    return oauth_response(exc)


async def _on_invalid_field(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidField)
    error = FieldError(loc=exc.loc, msg=exc.detail, type="value_error")
    return problem_response(
        status=422, detail=exc.detail, instance=request.url.path, errors=[error]
    )


async def _on_redis_error(request: Request, exc: Exception) -> Response:
    detail = "Identity storage is unavailable; retry shortly."
    if request.url.path == TOKEN_PATH:
        failure = OAuthFailure(
            "temporarily_unavailable", detail, status=503, retry_after=int(RETRY_AFTER)
        )
        return oauth_response(failure)
    return problem_response(
        status=503, detail=detail, instance=request.url.path, headers={"Retry-After": RETRY_AFTER}
    )


def install_auth_errors(app: FastAPI) -> None:
    """Handlers for the token endpoint's errors and for Redis being down (503)."""
    app.add_exception_handler(OAuthFailure, _on_oauth_failure)
    app.add_exception_handler(InvalidField, _on_invalid_field)
    app.add_exception_handler(RedisError, _on_redis_error)


# The shared classes are part of this service's error family too.
__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidField",
    "NotFound",
    "OAuthFailure",
    "ServiceError",
    "TooManyAttempts",
    "Unauthorized",
    "install_auth_errors",
    "oauth_response",
]
