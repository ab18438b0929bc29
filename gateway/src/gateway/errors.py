"""The gateway's own errors; the shared handler renders them as problem+json."""

from shared_schemas.runtime.problems import ServiceError


class BadPath(ServiceError):
    """A path the gateway will not forward (dot segments, malformed bytes)."""

    status = 404
    title = "Not Found"


class BadUpstreamReply(ServiceError):
    """The upstream answered with something that is not valid HTTP."""

    status = 502
    title = "Bad Gateway"


class UpstreamUnavailable(ServiceError):
    """The upstream could not be reached; the caller may retry after `Retry-After`."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class UpstreamTimeout(ServiceError):
    """The upstream did not answer in time."""

    status = 504
    title = "Gateway Timeout"
