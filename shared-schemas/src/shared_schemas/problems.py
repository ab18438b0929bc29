"""Error bodies: RFC 9457 problem details, the Open Inference Protocol's error, RFC 6749's."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from shared_schemas.base import Contract

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(Contract):
    """One invalid field: where it is, what is wrong, and a machine-readable kind."""

    loc: list[str | int]
    msg: str
    type: str


# A location names fields, and a field name can be as long as the body: past this it is cut.
LOC_PART_MAX = 200


def field_error(error: Mapping[str, Any], *, prefix: Sequence[str | int] = ()) -> FieldError:
    """One of pydantic's validation errors as the wire shows it, under `prefix` (e.g. body)."""
    loc = [part if isinstance(part, int) else _cut(str(part)) for part in error.get("loc", ())]
    return FieldError(
        loc=[*prefix, *loc], msg=_cut(str(error.get("msg", ""))), type=str(error.get("type", ""))
    )


def _cut(text: str) -> str:
    return text if len(text) <= LOC_PART_MAX else f"{text[:LOC_PART_MAX]}..."


class Problem(Contract):
    """RFC 9457 problem details, as every Servir error leaves the stack."""

    type: str = "about:blank"
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str
    request_id: str
    errors: list[FieldError] | None = None


class V2Problem(Problem):
    """A problem that also carries the Open Inference Protocol's `error` message."""

    error: str


OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "temporarily_unavailable",
]


class OAuthError(Contract):
    """RFC 6749 section 5.2 error body of the token endpoint."""

    error: OAuthErrorCode
    error_description: str | None = None
