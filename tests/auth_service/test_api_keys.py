"""API keys: shown once, stored hashed, scoped within the owner's, private to their owner."""

import hashlib

import httpx
import pytest
import redis

from auth_service.config import Settings
from shared_schemas.apikey_format import well_formed_api_key
from tests.auth_service.conftest import ADMIN, as_principal, create_user
from tests.conftest import INTERNAL

pytestmark = pytest.mark.anyio


async def new_key(auth: httpx.AsyncClient, owner: str, **body: object) -> httpx.Response:
    return await auth.post(
        "/auth/api-keys", json={"name": "ci", **body}, headers=as_principal(owner)
    )


async def introspect(auth: httpx.AsyncClient, token: str) -> dict[str, object]:
    response = await auth.post("/internal/introspect", data={"token": token}, headers=INTERNAL)
    body: dict[str, object] = response.json()
    return body


async def test_key_is_shown_once_and_stored_as_sha256(
    auth: httpx.AsyncClient, auth_settings: Settings
) -> None:
    await create_user(auth, "nora")
    created = await new_key(auth, "nora", expires_in_days=7)
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(body["prefix"])
    assert well_formed_api_key(body["key"])  # the gateway's shape check lets it through
    assert body["scopes"] == ["models:read", "models:predict"]
    assert body["expires_at"] is not None
    listed = (await auth.get("/auth/api-keys", headers=as_principal("nora"))).json()
    assert [key["id"] for key in listed] == [body["id"]]
    assert "key" not in listed[0]
    with redis.Redis.from_url(auth_settings.redis_url) as client:
        names = [name.decode() for name in client.keys("auth:api-key:*")]
        stored = b"".join(client.get(name) or b"" for name in names)
    assert names == [f"auth:api-key:{hashlib.sha256(body['key'].encode()).hexdigest()}"]
    assert body["key"].encode() not in stored


async def test_key_scopes_must_be_within_the_owners(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "omar", scopes=["models:read"])
    narrower = await new_key(auth, "omar", scopes=["models:read"])
    beyond = await new_key(auth, "omar", scopes=["models:read", "models:admin"])
    assert narrower.status_code == 201
    assert beyond.status_code == 403
    assert "models:admin" in beyond.json()["detail"]


async def test_at_most_ten_keys_per_user(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "pia")
    for _ in range(10):
        assert (await new_key(auth, "pia")).status_code == 201
    eleventh = await new_key(auth, "pia")
    assert eleventh.status_code == 409


async def test_another_users_key_is_neither_listed_nor_deleted(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "quinn")
    await create_user(auth, "rosa")
    key_id = (await new_key(auth, "quinn")).json()["id"]
    assert (await auth.get("/auth/api-keys", headers=as_principal("rosa"))).json() == []
    theirs = await auth.delete(f"/auth/api-keys/{key_id}", headers=as_principal("rosa"))
    unknown = await auth.delete("/auth/api-keys/0000000000000000", headers=as_principal("rosa"))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["title"] == unknown.json()["title"]
    assert (
        await auth.delete(f"/auth/api-keys/{key_id}", headers=as_principal("quinn"))
    ).status_code == 204


async def test_introspection_follows_the_key_and_its_owner(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "sam")
    created = (await new_key(auth, "sam", scopes=["models:predict"])).json()
    active = await introspect(auth, created["key"])
    assert active["active"] is True
    assert active["sub"] == "sam"
    assert active["scope"] == "models:predict"
    assert active["token_type"] == "api_key"
    assert active["jti"] == created["id"]
    listed = (await auth.get("/auth/api-keys", headers=as_principal("sam"))).json()
    assert listed[0]["last_used_at"] is not None
    await auth.patch("/auth/users/sam", json={"disabled": True}, headers=ADMIN)
    assert await introspect(auth, created["key"]) == {"active": False}
    await auth.patch("/auth/users/sam", json={"disabled": False}, headers=ADMIN)
    assert (await introspect(auth, created["key"]))["active"] is True
    await auth.delete("/auth/users/sam", headers=ADMIN)
    assert await introspect(auth, created["key"]) == {"active": False}


async def test_unknown_tokens_introspect_inactive(auth: httpx.AsyncClient) -> None:
    for token in ("srv_nope", "a.b.c", "opaque-refresh-lookalike"):
        assert await introspect(auth, token) == {"active": False}


async def test_api_key_principal_cannot_manage_keys(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "tess")
    key_id = (await new_key(auth, "tess")).json()["id"]
    response = await auth.post(
        "/auth/api-keys", json={"name": "x"}, headers=as_principal(f"key:{key_id}")
    )
    me = await auth.get("/auth/me", headers=as_principal(f"key:{key_id}"))
    assert response.status_code == 403
    assert me.json()["username"] == "tess"


async def test_key_scopes_default_to_the_calling_tokens_not_the_owners(
    auth: httpx.AsyncClient,
) -> None:
    # The admin holds every scope but calls with a token narrowed to models:read.
    narrow = as_principal("admin", "models:read")
    created = await auth.post("/auth/api-keys", json={"name": "ci"}, headers=narrow)
    assert created.status_code == 201
    assert created.json()["scopes"] == ["models:read"]
    assert (await introspect(auth, created.json()["key"]))["scope"] == "models:read"


async def test_key_scopes_beyond_the_calling_token_are_refused(auth: httpx.AsyncClient) -> None:
    narrow = as_principal("admin", "models:read")
    body = {"name": "ci", "scopes": ["models:read", "users:admin"]}
    beyond = await auth.post("/auth/api-keys", json=body, headers=narrow)
    assert beyond.status_code == 403
    assert "users:admin" in beyond.json()["detail"]
    assert (await auth.get("/auth/api-keys", headers=narrow)).json() == []
