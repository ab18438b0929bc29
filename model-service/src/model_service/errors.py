"""The model-service's errors; the shared handler renders them as problem+json."""

from collections.abc import Sequence

from fastapi.responses import Response

from shared_schemas.problems import FieldError
from shared_schemas.runtime.problems import (
    Conflict,
    ContentTooLarge,
    NotFound,
    ServiceError,
    problem_response,
)


class ModelUnavailable(ServiceError):
    """The model exists but cannot serve (its bundle failed to load)."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class BadBundle(ServiceError):
    """An uploaded bundle was refused (layout, manifest, checksum, types)."""

    status = 422
    title = "Unprocessable Content"


class InvalidInput(ServiceError):
    """The request failed the model's own schema: 422 naming each row and field."""

    status = 422
    title = "Unprocessable Content"

    def __init__(self, detail: str, *, errors: Sequence[FieldError]) -> None:
        super().__init__(detail)
        self.errors = list(errors)

    def response(self, instance: str) -> Response:
        """422 problem+json listing every invalid row and field."""
        return problem_response(
            status=422, detail=self.detail, instance=instance, errors=self.errors
        )


# The shared classes are part of this service's error family too.
__all__ = [
    "BadBundle",
    "Conflict",
    "ContentTooLarge",
    "InvalidInput",
    "ModelUnavailable",
    "NotFound",
    "ServiceError",
]
