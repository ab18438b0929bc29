"""OAuth2 endpoints: token (RFC 6749), revocation (RFC 7009), introspection (RFC 7662), JWKS."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from auth_service import grants
from auth_service.deps import ClientIpDep, KeysDep, PasswordsDep, RedisDep, SettingsDep
from auth_service.errors import OAuthFailure
from auth_service.forms import FORM_TYPE, parse_form, required
from auth_service.introspection import introspect, revoke
from shared_schemas.auth import Introspection, Jwks, TokenResponse
from shared_schemas.problems import OAuthError

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _form_body(properties: dict[str, Any], needed: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": needed}
    return {"requestBody": {"required": True, "content": {FORM_TYPE: {"schema": schema}}}}


def _oauth_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": OAuthError, "description": "RFC 6749 error"} for code in codes}


TOKEN_FIELDS = ("grant_type", "username", "password", "refresh_token", "scope")
TOKEN_ONLY_FIELDS = ("token", "token_type_hint")
TOKEN_FORM = _form_body(
    {
        "grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
        "refresh_token": {"type": "string"},
        "scope": {"type": "string"},
    },
    ["grant_type"],
)
# RFC 6749 section 3.1: a parameter sent without a value counts as omitted.
TOKEN_ONLY_FORM = _form_body(
    {"token": {"type": "string", "minLength": 1}, "token_type_hint": {"type": "string"}},
    ["token"],
)


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses=_oauth_errors(400, 429, 503),
    openapi_extra=TOKEN_FORM,
    tags=["auth"],
)
async def token(
    request: Request,
    redis: RedisDep,
    keys: KeysDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    client_ip: ClientIpDep,
) -> JSONResponse:
    """Issue tokens: the `password` grant logs in, `refresh_token` rotates a refresh token."""
    fields = parse_form(
        await request.body(), request.headers.get("content-type"), known=TOKEN_FIELDS
    )
    grant_type = required(fields, "grant_type")
    if grant_type == "password":
        issued = await grants.password_grant(
            redis,
            keys=keys,
            settings=settings,
            passwords=passwords,
            username=required(fields, "username"),
            password=required(fields, "password"),
            scope=fields.get("scope"),
            client_ip=client_ip,
        )
    elif grant_type == "refresh_token":
        issued = await grants.refresh_grant(
            redis,
            keys=keys,
            settings=settings,
            token=required(fields, "refresh_token"),
            scope=fields.get("scope"),
        )
    else:
        raise OAuthFailure("unsupported_grant_type", f"Unsupported grant_type {grant_type}.")
    return JSONResponse(issued.model_dump(), headers=NO_STORE)


@router.post(
    "/auth/revoke",
    response_class=Response,
    responses={200: {"description": "Revoked, or unknown (RFC 7009)"}, **_oauth_errors(400)},
    openapi_extra=TOKEN_ONLY_FORM,
    tags=["auth"],
)
async def revoke_token(
    request: Request, redis: RedisDep, keys: KeysDep, settings: SettingsDep
) -> Response:
    """Revoke an access token (by id), a refresh token (its family) or an API key."""
    fields = parse_form(
        await request.body(), request.headers.get("content-type"), known=TOKEN_ONLY_FIELDS
    )
    await revoke(redis, token=required(fields, "token"), keys=keys, settings=settings)
    return Response(status_code=200, headers=NO_STORE)


@router.post(
    "/internal/introspect",
    response_model=Introspection,
    responses=_oauth_errors(400),
    openapi_extra=TOKEN_ONLY_FORM,
    tags=["internal"],
)
async def introspect_token(
    request: Request, redis: RedisDep, keys: KeysDep, settings: SettingsDep
) -> JSONResponse:
    """RFC 7662 introspection for the gateway (never proxied)."""
    fields = parse_form(
        await request.body(), request.headers.get("content-type"), known=TOKEN_ONLY_FIELDS
    )
    found = await introspect(redis, token=required(fields, "token"), keys=keys, settings=settings)
    return JSONResponse(found.model_dump(exclude_none=True), headers=NO_STORE)


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks(keys: KeysDep) -> Jwks:
    """The public keys that verify access tokens."""
    return keys.jwks()
