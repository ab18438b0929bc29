"""RFC 7009 revocation and the feed every gateway mirrors."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import redis.asyncio

from auth_service.config import Settings
from shared_schemas import revocation
from shared_schemas.revocation import RevocationEvent
from tests.auth_service.conftest import ADMIN, FORM, as_principal, create_user, login
from tests.conftest import INTERNAL

pytestmark = pytest.mark.anyio


@pytest.fixture
async def events(auth_settings: Settings) -> AsyncIterator[asyncio.Queue[RevocationEvent]]:
    """Every revocation event published while the test runs."""
    client = redis.asyncio.Redis.from_url(auth_settings.redis_url)
    queue: asyncio.Queue[RevocationEvent] = asyncio.Queue()
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(revocation.CHANNEL)

        async def pump() -> None:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    await queue.put(RevocationEvent.model_validate_json(message["data"]))

        task = asyncio.create_task(pump())
        yield queue
        task.cancel()
    await client.aclose()


async def next_event(queue: asyncio.Queue[RevocationEvent]) -> RevocationEvent:
    return await asyncio.wait_for(queue.get(), timeout=2)


async def revoke(auth: httpx.AsyncClient, token: str) -> httpx.Response:
    return await auth.post("/auth/revoke", data={"token": token}, headers=INTERNAL)


async def test_revoking_an_access_token_publishes_its_id(
    auth: httpx.AsyncClient, auth_settings: Settings, events: asyncio.Queue[RevocationEvent]
) -> None:
    access = (await login(auth, "admin", "admin-password-for-tests")).json()["access_token"]
    assert (await revoke(auth, access)).status_code == 200
    event = await next_event(events)
    assert event.kind == "token"
    state = redis.asyncio.Redis.from_url(auth_settings.redis_url)
    assert await state.zscore(revocation.REVOKED_TOKENS_KEY, event.subject) == event.until
    await state.aclose()
    introspected = await auth.post("/internal/introspect", data={"token": access}, headers=INTERNAL)
    assert introspected.json() == {"active": False}


async def test_revoking_a_refresh_token_revokes_its_family(auth: httpx.AsyncClient) -> None:
    refresh_token = (await login(auth, "admin", "admin-password-for-tests")).json()["refresh_token"]
    assert (await revoke(auth, refresh_token)).status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    assert (await auth.post("/auth/token", data=form, headers=INTERNAL)).status_code == 400


async def test_unknown_and_garbage_tokens_revoke_with_200(auth: httpx.AsyncClient) -> None:
    for token in ("nothing", "a.b.c", "srv_nothing"):
        assert (await revoke(auth, token)).status_code == 200
    missing = await auth.post("/auth/revoke", content=b"", headers={**INTERNAL, **FORM})
    assert missing.status_code == 400


async def test_revoking_an_api_key_deletes_it_and_publishes_its_id(
    auth: httpx.AsyncClient, events: asyncio.Queue[RevocationEvent]
) -> None:
    await create_user(auth, "uma")
    created = (
        await auth.post("/auth/api-keys", json={"name": "k"}, headers=as_principal("uma"))
    ).json()
    assert (await revoke(auth, created["key"])).status_code == 200
    event = await next_event(events)
    assert (event.kind, event.subject) == ("api_key", created["id"])
    assert (await auth.get("/auth/api-keys", headers=as_principal("uma"))).json() == []


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"disabled": True}), ("PATCH", {"password": "fresh-password"}), ("DELETE", None)],
)
async def test_user_changes_cut_off_earlier_tokens(
    auth: httpx.AsyncClient,
    events: asyncio.Queue[RevocationEvent],
    method: str,
    body: dict[str, object] | None,
) -> None:
    await create_user(auth, "vic")
    issued = (await login(auth, "vic", "user-password-1")).json()
    await auth.request(method, "/auth/users/vic", json=body, headers=ADMIN)
    event = await next_event(events)
    assert (event.kind, event.subject) == ("user", "vic")
    introspected = await auth.post(
        "/internal/introspect", data={"token": issued["access_token"]}, headers=INTERNAL
    )
    assert introspected.json() == {"active": False}
    form = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    assert (await auth.post("/auth/token", data=form, headers=INTERNAL)).status_code == 400


async def test_password_change_keeps_tokens_issued_after_it(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "wes")
    await auth.patch("/auth/users/wes", json={"password": "fresh-password"}, headers=ADMIN)
    after = (await login(auth, "wes", "fresh-password")).json()["access_token"]
    introspected = await auth.post("/internal/introspect", data={"token": after}, headers=INTERNAL)
    assert introspected.json()["active"] is True


async def is_active(auth: httpx.AsyncClient, token: str) -> bool:
    found = await auth.post("/internal/introspect", data={"token": token}, headers=INTERNAL)
    active: bool = found.json()["active"]
    return active


async def use_refresh(auth: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return await auth.post("/auth/token", data=form, headers=INTERNAL)


async def test_a_recreated_user_is_a_new_identity(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "xena")
    old = (await login(auth, "xena", "user-password-1")).json()
    key = await auth.post("/auth/api-keys", json={"name": "k"}, headers=as_principal("xena"))
    assert (await auth.delete("/auth/users/xena", headers=ADMIN)).status_code == 204
    assert (await create_user(auth, "xena")).status_code == 201
    assert (await use_refresh(auth, old["refresh_token"])).status_code == 400
    assert not await is_active(auth, old["access_token"])
    assert not await is_active(auth, old["refresh_token"])
    assert not await is_active(auth, key.json()["key"])
    fresh = (await login(auth, "xena", "user-password-1")).json()
    assert await is_active(auth, fresh["access_token"])
    assert (await use_refresh(auth, fresh["refresh_token"])).status_code == 200


async def test_refresh_reuse_revokes_the_familys_access_tokens(
    auth: httpx.AsyncClient, events: asyncio.Queue[RevocationEvent]
) -> None:
    await create_user(auth, "yuri")
    first = (await login(auth, "yuri", "user-password-1")).json()
    second = (await use_refresh(auth, first["refresh_token"])).json()
    other_login = (await login(auth, "yuri", "user-password-1")).json()
    assert (await use_refresh(auth, first["refresh_token"])).status_code == 400
    revoked = {(await next_event(events)).subject for _ in range(2)}
    assert not await is_active(auth, first["access_token"])
    assert not await is_active(auth, second["access_token"])
    assert await is_active(auth, other_login["access_token"])
    claims = [
        jwt.decode(t["access_token"], options={"verify_signature": False}) for t in (first, second)
    ]
    assert revoked == {c["jti"] for c in claims}


async def test_revoking_a_refresh_token_revokes_its_access_tokens(auth: httpx.AsyncClient) -> None:
    issued = (await login(auth, "admin", "admin-password-for-tests")).json()
    assert (await revoke(auth, issued["refresh_token"])).status_code == 200
    assert not await is_active(auth, issued["access_token"])
