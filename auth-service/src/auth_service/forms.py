"""Strict parsing of `application/x-www-form-urlencoded` bodies (RFC 6749 appendix B)."""

from collections.abc import Collection
from urllib.parse import parse_qsl

from auth_service.errors import OAuthFailure

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024


def parse_form(body: bytes, content_type: str | None, *, known: Collection[str]) -> dict[str, str]:
    """The form's `known` fields; RFC 6749 `invalid_request` on a wrong type, bad encoding or
    a repeated parameter. Others are left out, repeated or not: section 3.2 says an
    authorization server MUST ignore parameters it does not recognize."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
        raise OAuthFailure("invalid_request", f"The body must be {FORM_TYPE}.")
    if len(body) > MAX_FORM_BYTES:
        raise OAuthFailure("invalid_request", "The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise OAuthFailure(
            "invalid_request", "The form is not valid UTF-8 form encoding."
        ) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            continue
        if name in fields:
            raise OAuthFailure("invalid_request", f"The parameter {name} is repeated.")
        fields[name] = value
    return fields


def required(fields: dict[str, str], name: str) -> str:
    """A parameter that must be present and non-empty."""
    value = fields.get(name)
    if not value:
        raise OAuthFailure("invalid_request", f"The parameter {name} is required.")
    return value
