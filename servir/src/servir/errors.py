"""Everything the servir package raises derives from ServirError, so a script catches one type.

An answer of the API that is an error raises an ApiError subclass chosen by its status, carrying
the problem details (RFC 9457) the stack sent, or the token endpoint's RFC 6749 error.
"""

from typing import Any


class ServirError(Exception):
    """A failure of the SDK, the client or the CLI, with a message meant for the user."""


class BundleError(ServirError):
    """A model cannot be saved as a bundle (or a bundle cannot be read): the message says why."""


class ConnectionFailed(ServirError):
    """The server could not be reached, or did not answer in time."""


class UnexpectedResponse(ServirError):
    """A success answer whose body does not fit the contract this client knows (a server
    newer or older than the client, or not a Servir gateway at all)."""


class ApiError(ServirError):
    """The API answered an error. `problem` is its parsed body (problem+json, or RFC 6749's
    `{"error", "error_description"}` from the token endpoint), `errors` the field errors."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.problem = problem or {}


class Invalid(ApiError):
    """400 or 422: the request does not fit (see `errors` for each field)."""


class Unauthorized(ApiError):
    """401: no credential, or an expired, revoked or wrong one (or a refused login)."""


class Forbidden(ApiError):
    """403: the credential lacks the scope the operation needs."""


class NotFound(ApiError):
    """404: no such model, version, user or key."""


class Conflict(ApiError):
    """409: the name is taken, or the change would leave the stack without an admin."""


class RateLimited(ApiError):
    """429: too many requests; `retry_after` is the seconds the server asked to wait."""

    retry_after: float | None = None


class ServerError(ApiError):
    """5xx: the stack, or the model, failed; the detail never holds internals."""


def error_class(status: int) -> type[ApiError]:
    """The exception class for an error status."""
    if status >= 500:
        return ServerError
    return {
        400: Invalid,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
        422: Invalid,
        429: RateLimited,
    }.get(status, ApiError)
