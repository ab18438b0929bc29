"""Every error leaves a Servir service as RFC 9457 problem+json, built here."""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from servir_runtime.context import request_id_var
from shared_schemas.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    Problem,
    V2Problem,
    field_error,
)

logger = logging.getLogger("servir.errors")

V2_PREFIX = "/v2"
# The methods a 405's `Allow` may name (HEAD only where a route lists it).
ALLOW_PROBED = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# RFC 9110's names where Python 3.11's HTTPStatus still has RFC 7231's ("Request Entity Too
# Large", "Unprocessable Entity"): one name per status in every title and status line.
REASONS = {413: "Content Too Large", 422: "Unprocessable Content"}


def reason(status: int) -> str:
    """The status's name, as RFC 9110 gives it."""
    return REASONS.get(status) or HTTPStatus(status).phrase


class ServiceError(Exception):
    """Base of every service's own errors; the one handler turns it into problem+json."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self, instance: str) -> Response:
        """This error as problem+json for the request at `instance`."""
        return problem_response(
            status=self.status,
            title=self.title,
            detail=self.detail,
            instance=instance,
            headers=self.headers,
        )


class NotFound(ServiceError):
    """No such resource (or not the caller's: the same answer)."""

    status = 404
    title = "Not Found"


class Conflict(ServiceError):
    """The request conflicts with the current state."""

    status = 409
    title = "Conflict"


class Forbidden(ServiceError):
    """The caller may not do this."""

    status = 403
    title = "Forbidden"


class ContentTooLarge(ServiceError):
    """The body (or an upload) exceeds its limit."""

    status = 413
    title = "Content Too Large"


class UnsupportedMediaType(ServiceError):
    """The body is declared as a media type the route does not take."""

    status = 415
    title = "Unsupported Media Type"


def problem_response(
    *,
    status: int,
    detail: str,
    instance: str,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response; under `/v2` it also carries the protocol's `error` field."""
    fields: dict[str, Any] = {
        "title": title or reason(status),
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id_var.get(),
        "errors": list(errors) if errors is not None else None,
    }
    problem = (
        V2Problem(error=detail, **fields) if instance.startswith(V2_PREFIX) else Problem(**fields)
    )
    body = orjson.dumps(problem.model_dump(mode="json", exclude_none=True))
    return Response(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _route_detail(request: Request, status: int) -> str:
    if status == 404:
        return f"No resource at {request.url.path}."
    if status == 405:
        return f"{request.method} is not allowed on {request.url.path}."
    return HTTPStatus(status).description or reason(status)


async def _on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return exc.response(request.url.path)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):
        # FastAPI could not even decode the JSON body (not UTF-8, nested too deep): answer as
        # for any other body that is not JSON, rather than with its bare 400.
        return _not_json(request)
    phrase = HTTPStatus(status).phrase  # Starlette's default detail: no detail at all
    detail = exc.detail if exc.detail and exc.detail != phrase else _route_detail(request, status)
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
    return problem_response(
        status=status, detail=detail, instance=request.url.path, headers=headers
    )


def _allowed_methods(request: Request, allow: str) -> str:
    """`allow` plus every method some route serves at this path: Starlette's own `Allow`
    names only the first route whose path matched (GET and POST /things as two routes: GET)."""
    methods = {method.strip() for method in allow.split(",") if method.strip()}
    for method in ALLOW_PROBED:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return ", ".join(sorted(methods))


def _not_json(request: Request) -> Response:
    msg = "The body is not JSON (or not UTF-8, or nested too deeply)."
    return problem_response(
        status=422,
        detail=msg,
        instance=request.url.path,
        errors=[FieldError(loc=["body"], msg=msg, type="json_invalid")],
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [field_error(error) for error in exc.errors()]
    names = ", ".join(".".join(str(part) for part in error.loc) for error in errors[:5])
    return problem_response(
        status=422,
        detail=f"The request is invalid: {names}.",
        instance=request.url.path,
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error FastAPI or the service raises through problem+json."""
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
