"""The caller's API keys."""

from fastapi import APIRouter, Response

from auth_service import api_keys
from auth_service.deps import PrincipalDep, RedisDep, SettingsDep
from auth_service.errors import Forbidden
from auth_service.users import require_user
from servir_runtime.deps import JsonBody
from shared_schemas.auth import ApiKey, ApiKeyCreate, ApiKeyCreated, canonical_scopes

router = APIRouter(tags=["api-keys"])


def _user_only(principal: PrincipalDep) -> str:
    if principal.is_api_key:
        raise Forbidden("API keys are managed with a user's token, not with another API key.")
    return principal.name


@router.post(
    "/auth/api-keys",
    status_code=201,
    dependencies=[JsonBody],
    responses={
        403: {
            "description": "The caller is an API key, or asks for scopes beyond the calling "
            "token's or the owner's"
        },
        409: {"description": "The user holds AUTH_MAX_API_KEYS_PER_USER keys already"},
    },
)
async def create(
    body: ApiKeyCreate, redis: RedisDep, principal: PrincipalDep, settings: SettingsDep
) -> ApiKeyCreated:
    """Create an API key; its secret is shown in this answer only."""
    owner = await require_user(redis, _user_only(principal))
    # A key never outranks the credential that made it: a token narrowed to models:read
    # must not mint a users:admin key just because its owner holds that scope.
    allowed = canonical_scopes(set(owner.scopes) & principal.scopes)
    scopes = body.scopes if body.scopes is not None else allowed
    beyond = [scope for scope in scopes if scope not in allowed]
    if beyond:
        raise Forbidden(
            "A key cannot have scopes beyond the calling token's and its owner's: "
            f"{' '.join(beyond)}."
        )
    return await api_keys.create_api_key(
        redis,
        owner=owner.username,
        name=body.name,
        scopes=scopes,
        days=body.expires_in_days,
        limit=settings.max_api_keys_per_user,
    )


@router.get("/auth/api-keys", responses={403: {"description": "The caller is an API key"}})
async def list_mine(redis: RedisDep, principal: PrincipalDep) -> list[ApiKey]:
    """The caller's own keys (never their secrets)."""
    return await api_keys.list_api_keys(redis, owner=_user_only(principal))


@router.delete(
    "/auth/api-keys/{key_id}",
    status_code=204,
    responses={
        403: {"description": "The caller is an API key"},
        404: {"description": "No such key of the caller's"},
    },
)
async def delete(key_id: str, redis: RedisDep, principal: PrincipalDep) -> Response:
    """Delete one of the caller's keys; another user's key id is answered like an unknown one."""
    await api_keys.delete_api_key(redis, owner=_user_only(principal), key_id=key_id)
    return Response(status_code=204)
