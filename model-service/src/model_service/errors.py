"""The model-service's errors; the shared handler renders them as problem+json."""

from collections.abc import Sequence
from typing import Any

from fastapi.responses import Response

from servir_runtime.problems import (
    Conflict,
    ContentTooLarge,
    NotFound,
    ServiceError,
    problem_response,
)
from shared_schemas.problems import FieldError


class ModelUnavailable(ServiceError):
    """The model exists but cannot serve (its bundle failed to load)."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class ModelTimedOut(ModelUnavailable):
    """A predict call overran MODEL_INFERENCE_TIMEOUT_SECONDS: the version stays out of
    service until it is loaded again (its worker thread may be stuck for good)."""

    def __init__(self, deadline_seconds: float) -> None:
        super().__init__(
            f"The model overran its {deadline_seconds:g} s inference deadline "
            "(MODEL_INFERENCE_TIMEOUT_SECONDS) and is out of service until it is loaded again."
        )


# What a route answers when it looks a model (or version) up and finds none that serves.
MODEL_LOOKUP_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such model or version"},
    503: {"description": "The model failed to load or overran its deadline (Retry-After)"},
}
# The body of an Open Inference Protocol health answer: the status says it all.
EMPTY_OK: dict[int | str, dict[str, Any]] = {200: {"description": "Yes (no body)"}}


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


class ModelError(ServiceError):
    """The model raised on rows that fit its contract: the model's fault, never the caller's.

    The answer names the model and version and nothing of the failure (no exception text, no
    traceback); the data plane logs the cause with its traceback and counts it.
    """

    status = 500
    title = "Model error"

    def __init__(self, name: str, version: str) -> None:
        super().__init__(
            f"Model {name} version {version} failed on input that fits its contract. "
            "The failure is logged for the model's operators."
        )
        self.model = name
        self.version = version


# What a predict or infer operation answers when the model itself fails (ModelError).
MODEL_ERROR: dict[int | str, dict[str, Any]] = {
    500: {"description": "Model error: the model failed on valid input (logged, no internals)"},
}


# The shared classes are part of this service's error family too.
__all__ = [
    "BadBundle",
    "Conflict",
    "ContentTooLarge",
    "InvalidInput",
    "ModelError",
    "ModelTimedOut",
    "ModelUnavailable",
    "NotFound",
    "ServiceError",
]
