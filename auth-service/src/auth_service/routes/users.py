"""The caller's own account, and user administration (users:admin)."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from auth_service import api_keys, refresh, revocations, throttle
from auth_service.deps import (
    AdminDep,
    ClientIpDep,
    PasswordsDep,
    PrincipalDep,
    RedisDep,
    SettingsDep,
)
from auth_service.errors import Forbidden, NotFound
from auth_service.users import (
    create_user,
    get_user,
    list_users,
    new_user_record,
    public_user,
    require_user,
    write_user,
)
from servir_runtime.audit import audit
from servir_runtime.deps import JsonBody
from shared_schemas.auth import (
    DEFAULT_USER_SCOPES,
    Me,
    PasswordChange,
    User,
    UserCreate,
    UserPage,
    UserPatch,
    UserRecord,
)

router = APIRouter(tags=["users"])
# Redis takes ranks as 64-bit integers; past this no page has anyone on it anyway.
MAX_OFFSET = 1_000_000_000
USER_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such user"},
    409: {"description": "That would leave no enabled holder of users:admin"},
}


async def _owner_of(redis: RedisDep, principal: PrincipalDep) -> UserRecord:
    """The user behind the caller (an API key's owner for key callers)."""
    username = principal.name
    if principal.key_id is not None:
        found = await api_keys.find_by_id(redis, principal.key_id)
        if found is None:
            raise NotFound("The API key no longer exists.")
        username = found[1].owner
    return await require_user(redis, username)


@router.get("/auth/me")
async def me(redis: RedisDep, principal: PrincipalDep) -> Me:
    """The caller's account."""
    user = await _owner_of(redis, principal)
    return Me(username=user.username, scopes=user.scopes, created_at=user.created_at)


@router.post(
    "/auth/me/password",
    status_code=204,
    dependencies=[JsonBody],
    responses={
        403: {"description": "The current password is wrong, or the caller is an API key"},
        429: {"description": "Too many failed password checks (counted with the logins')"},
    },
)
async def change_password(
    body: PasswordChange,
    redis: RedisDep,
    principal: PrincipalDep,
    passwords: PasswordsDep,
    settings: SettingsDep,
    client_ip: ClientIpDep,
) -> Response:
    """Change the caller's password; every earlier token of the caller stops working."""
    if principal.is_api_key:
        raise Forbidden("An API key cannot change its owner's password.")
    # Checking current_password is a password guess like a login: it shares the login's budget.
    attempt = await throttle.reserve_attempt(
        redis, settings=settings, username=principal.name, ip=client_ip
    )
    user = await require_user(redis, principal.name)
    if not await passwords.verify(user.password_hash, body.current_password):
        raise Forbidden("The current password is incorrect.")
    await throttle.succeeded(redis, attempt)
    cutoff = time.time()
    new_hash = await passwords.hash(body.new_password)
    await write_user(
        redis,
        user.username,
        user.model_copy(update={"password_hash": new_hash, "tokens_not_before": cutoff}),
    )
    await revocations.cut_off_user(redis, username=user.username, at=cutoff)
    return Response(status_code=204)


@router.post(
    "/auth/users",
    status_code=201,
    dependencies=[JsonBody],
    responses={409: {"description": "The username is taken"}},
)
async def create(
    body: UserCreate, redis: RedisDep, admin: AdminDep, passwords: PasswordsDep
) -> User:
    """Create a user (default scopes: models:read models:predict)."""
    scopes = list(body.scopes if body.scopes is not None else DEFAULT_USER_SCOPES)
    record = new_user_record(
        username=body.username, password_hash=await passwords.hash(body.password), scopes=scopes
    )
    await create_user(redis, record)
    audit(actor=admin.name, action="user.create", target=body.username, scopes=scopes)
    return public_user(record)


@router.get("/auth/users")
async def list_all(
    redis: RedisDep,
    admin: AdminDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> UserPage:
    """One page of users, in username order."""
    limit = min(limit, settings.users_page_max)
    records, total = await list_users(redis, offset=offset, limit=limit)
    return UserPage(
        items=[public_user(r) for r in records], total=total, limit=limit, offset=offset
    )


@router.patch("/auth/users/{username}", dependencies=[JsonBody], responses=USER_WRITE_ERRORS)
async def patch(
    username: str, body: UserPatch, redis: RedisDep, admin: AdminDep, passwords: PasswordsDep
) -> User:
    """Change a user's scopes, disabled flag or password; the last enabled admin stays one."""
    user = await require_user(redis, username)
    changes: dict[str, object] = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password is not None:
        changes["password_hash"] = await passwords.hash(body.password)
    updated = user.model_copy(update=changes)
    lost_scopes = not set(updated.scopes) >= set(user.scopes)
    cutoff = time.time() if (body.password or updated.disabled or lost_scopes) else None
    if cutoff is not None:
        updated = updated.model_copy(update={"tokens_not_before": cutoff})
    updated = UserRecord.model_validate(updated.model_dump(), strict=False)
    await write_user(redis, username, updated)
    if cutoff is not None:
        await revocations.cut_off_user(redis, username=username, at=cutoff)
    fields = sorted(body.model_dump(exclude_none=True))
    audit(actor=admin.name, action="user.update", target=username, fields=fields)
    return public_user(updated)


@router.delete("/auth/users/{username}", status_code=204, responses=USER_WRITE_ERRORS)
async def delete(
    username: str, redis: RedisDep, admin: AdminDep, settings: SettingsDep
) -> Response:
    """Delete a user: every token and API key of theirs stops working."""
    if await get_user(redis, username) is None:
        raise NotFound(f"No user named {username}.")
    await write_user(redis, username, None)
    await api_keys.delete_all_api_keys(redis, owner=username)
    await refresh.revoke_user_families(redis, username, ttl=settings.refresh_token_ttl_seconds)
    await revocations.cut_off_user(redis, username=username, at=time.time())
    audit(actor=admin.name, action="user.delete", target=username)
    return Response(status_code=204)
