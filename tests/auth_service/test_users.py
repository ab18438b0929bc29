"""User administration, the caller's own account, and the last-admin rule."""

import httpx
import pytest

from tests.auth_service.conftest import ADMIN, as_principal, create_user, login
from tests.conftest import INTERNAL

pytestmark = pytest.mark.anyio


async def test_admin_creates_user_with_default_scopes(auth: httpx.AsyncClient) -> None:
    response = await create_user(auth, "hank")
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "hank"
    assert body["scopes"] == ["models:read", "models:predict"]
    assert "password_hash" not in body
    assert (await create_user(auth, "hank")).status_code == 409


async def test_user_routes_need_users_admin(auth: httpx.AsyncClient) -> None:
    response = await auth.get("/auth/users", headers=as_principal("hank"))
    assert response.status_code == 403


async def test_listing_is_paginated_in_username_order(auth: httpx.AsyncClient) -> None:
    for name in ("zoe", "amy", "mia"):
        await create_user(auth, name)
    page = (await auth.get("/auth/users?limit=2&offset=1", headers=ADMIN)).json()
    assert page["total"] == 4
    names = [user["username"] for user in page["items"]]
    assert names == sorted(["admin", "amy", "mia", "zoe"])[1:3]
    assert page["limit"] == 2
    assert page["offset"] == 1


async def test_listing_refuses_an_offset_past_any_page(auth: httpx.AsyncClient) -> None:
    response = await auth.get(
        "/auth/users?offset=24700270583421417745107642706412175360", headers=ADMIN
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize(
    "body", [{"password_hash": "x"}, {"username": "other"}, {"created_at": "2020-01-01T00:00:00Z"}]
)
async def test_patch_refuses_mass_assignment(auth: httpx.AsyncClient, body: dict[str, str]) -> None:
    await create_user(auth, "ivan")
    response = await auth.patch("/auth/users/ivan", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "extra_forbidden"


async def test_patch_changes_scopes_and_password(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "jill")
    response = await auth.patch(
        "/auth/users/jill",
        json={"scopes": ["models:read"], "password": "another-password"},
        headers=ADMIN,
    )
    assert response.json()["scopes"] == ["models:read"]
    assert (await login(auth, "jill", "another-password")).status_code == 200


@pytest.mark.parametrize(
    ("method", "body"),
    [("DELETE", None), ("PATCH", {"disabled": True}), ("PATCH", {"scopes": ["models:read"]})],
)
async def test_last_admin_cannot_be_removed(
    auth: httpx.AsyncClient, method: str, body: dict[str, object] | None
) -> None:
    response = await auth.request(method, "/auth/users/admin", json=body, headers=ADMIN)
    assert response.status_code == 409
    assert "last" in response.json()["detail"]


async def test_second_admin_makes_the_first_removable(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "kate", scopes=["users:admin"])
    assert (
        await auth.patch("/auth/users/admin", json={"disabled": True}, headers=ADMIN)
    ).status_code == 200
    assert (await auth.delete("/auth/users/kate", headers=ADMIN)).status_code == 409


async def test_admin_actions_leave_an_audit_line(
    caplog: pytest.LogCaptureFixture, auth: httpx.AsyncClient
) -> None:
    await auth.post(
        "/auth/users",
        json={"username": "leo", "password": "leo-password"},
        headers={**ADMIN, "X-Request-ID": "audit-1"},
    )
    await auth.delete("/auth/users/leo", headers={**ADMIN, "X-Request-ID": "audit-2"})
    lines = [record.__dict__ for record in caplog.records if record.name == "servir.audit"]
    audits = [(line["actor"], line["action"], line["target"], line["request_id"]) for line in lines]
    assert audits == [
        ("admin", "user.create", "leo", "audit-1"),
        ("admin", "user.delete", "leo", "audit-2"),
    ]
    assert all(isinstance(line["at"], float) for line in lines)


async def test_me_and_password_change(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "mona")
    me = (await auth.get("/auth/me", headers=as_principal("mona"))).json()
    assert me["username"] == "mona"
    assert me["scopes"] == ["models:read", "models:predict"]
    wrong = await auth.post(
        "/auth/me/password",
        json={"current_password": "nope", "new_password": "brand-new-pass"},
        headers=as_principal("mona"),
    )
    assert wrong.status_code == 403
    changed = await auth.post(
        "/auth/me/password",
        json={"current_password": "user-password-1", "new_password": "brand-new-pass"},
        headers=as_principal("mona"),
    )
    assert changed.status_code == 204
    assert (await login(auth, "mona", "user-password-1")).status_code == 400
    assert (await login(auth, "mona", "brand-new-pass")).status_code == 200


async def test_routes_need_an_identity(auth: httpx.AsyncClient) -> None:
    response = await auth.get("/auth/me", headers=INTERNAL)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_json_routes_refuse_other_media_types_with_415(
    auth: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = dict(ADMIN)
    if content_type is not None:
        headers["content-type"] = content_type
    body = b'{"username": "mallory", "password": "mallory-password-1"}'
    response = await auth.post("/auth/users", content=body, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body", [b'{"username": "\xff\xfe"}', b'{"username": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"]
)
async def test_bodies_that_are_not_json_at_all_are_422(
    auth: httpx.AsyncClient, body: bytes
) -> None:
    headers = {**ADMIN, "content-type": "application/json"}
    response = await auth.post("/auth/users", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_repeated_scopes_are_refused_with_422(auth: httpx.AsyncClient, method: str) -> None:
    await create_user(auth, "nell")
    scopes = ["users:admin", "users:admin", "models:admin"]
    if method == "POST":
        body: dict[str, object] = {
            "username": "odin",
            "password": "odin-password",
            "scopes": scopes,
        }
        response = await auth.post("/auth/users", json=body, headers=ADMIN)
    else:
        response = await auth.patch("/auth/users/nell", json={"scopes": scopes}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "scopes"]
    listed = (await auth.get("/auth/users", headers=ADMIN)).json()["items"]
    assert [user["username"] for user in listed] == ["admin", "nell"]
    assert listed[1]["scopes"] == ["models:read", "models:predict"]


async def test_scopes_are_shown_in_one_order_whatever_order_was_asked(
    auth: httpx.AsyncClient,
) -> None:
    created = await create_user(auth, "pete", scopes=["users:admin", "models:read"])
    assert created.json()["scopes"] == ["models:read", "users:admin"]
