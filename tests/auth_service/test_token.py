"""POST /auth/token: password and refresh_token grants, RFC 6749 errors, throttling."""

import asyncio

import httpx
import jwt
import pytest

from auth_service.config import Settings
from tests.auth_service.conftest import ADMIN, create_user, login
from tests.conftest import INTERNAL

pytestmark = pytest.mark.anyio


async def public_key(auth: httpx.AsyncClient, kid: str) -> jwt.PyJWK:
    keys = (await auth.get("/.well-known/jwks.json", headers=INTERNAL)).json()["keys"]
    return jwt.PyJWK(next(key for key in keys if key["kid"] == kid))


async def test_password_grant_issues_signed_access_and_refresh_tokens(
    auth: httpx.AsyncClient, auth_settings: Settings
) -> None:
    response = await login(auth, "admin", "admin-password-for-tests")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "models:read models:predict models:admin users:admin"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    key = await public_key(auth, header["kid"])
    claims = jwt.decode(body["access_token"], key, algorithms=["EdDSA"], audience="servir")
    assert claims["iss"] == "servir-auth"
    assert claims["sub"] == "admin"
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == pytest.approx(900, abs=1)
    assert {"jti", "nbf"} <= claims.keys()
    assert body["refresh_token"].count(".") == 0


async def test_unknown_user_and_wrong_password_answer_identically(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "carol")
    wrong = await login(auth, "carol", "not-her-password")
    unknown = await login(auth, "nobody-here", "not-her-password")
    assert wrong.status_code == unknown.status_code == 400
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "invalid_grant",
            "error_description": "The username or password is incorrect.",
        }
    )
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())


async def test_scope_omitted_grants_all_and_more_than_held_is_invalid_scope(
    auth: httpx.AsyncClient,
) -> None:
    await create_user(auth, "dave")
    everything = await login(auth, "dave", "user-password-1")
    narrower = await login(auth, "dave", "user-password-1", scope="models:read")
    beyond = await login(auth, "dave", "user-password-1", scope="models:read users:admin")
    assert everything.json()["scope"] == "models:read models:predict"
    assert narrower.json()["scope"] == "models:read"
    assert beyond.status_code == 400
    assert beyond.json()["error"] == "invalid_scope"


async def refresh(auth: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return await auth.post("/auth/token", data=form, headers=INTERNAL)


async def test_refresh_rotates_and_reuse_revokes_the_family(auth: httpx.AsyncClient) -> None:
    first = (await login(auth, "admin", "admin-password-for-tests")).json()["refresh_token"]
    rotated = await refresh(auth, first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    reused = await refresh(auth, first)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    after_reuse = await refresh(auth, second)
    assert after_reuse.status_code == 400


async def test_concurrent_refreshes_with_one_token_rotate_it_at_most_once_and_void_the_family(
    auth: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = (await login(auth, "admin", "admin-password-for-tests")).json()["refresh_token"]
    answers = await asyncio.gather(*(refresh(auth, token) for _ in range(5)))
    statuses = sorted(answer.status_code for answer in answers)
    # One use wins the rotation; the others are reuses, which revoke the whole family (RFC 9700
    # section 4.14.2), the winner's new tokens included: the winner answers 200 only when it
    # finished before the first reuse was seen, else 400 like the rest.
    assert statuses in ([200, 400, 400, 400, 400], [400, 400, 400, 400, 400])
    reused = [r for r in caplog.records if r.getMessage() == "refresh token reused: family revoked"]
    assert reused
    assert (await refresh(auth, token)).status_code == 400
    for answer in answers:
        if answer.status_code == 200:
            assert (await refresh(auth, answer.json()["refresh_token"])).status_code == 400


async def test_failed_logins_throttle_the_account_from_that_address_even_with_the_right_password(
    auth: httpx.AsyncClient,
) -> None:
    await create_user(auth, "erin")
    await create_user(auth, "frank")
    for _ in range(5):
        assert (await login(auth, "erin", "wrong-password")).status_code == 400
    throttled = await login(auth, "erin", "user-password-1")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 900
    assert throttled.json()["error"] == "invalid_request"
    assert (await login(auth, "frank", "user-password-1")).status_code == 200


async def test_failed_logins_throttle_a_client_ip(
    auth_settings: Settings, auth: httpx.AsyncClient
) -> None:
    headers = {**INTERNAL, "X-Servir-Client-IP": "198.18.0.9"}
    for index in range(auth_settings.login_ip_max_failures):
        form = {"grant_type": "password", "username": f"spray-{index}", "password": "x"}
        await auth.post("/auth/token", data=form, headers=headers)
    form = {"grant_type": "password", "username": "admin", "password": "admin-password-for-tests"}
    from_that_ip = await auth.post("/auth/token", data=form, headers=headers)
    elsewhere = await login(auth, "admin", "admin-password-for-tests")
    assert from_that_ip.status_code == 429
    assert elsewhere.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (
            "grant_type=password&username=admin",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        (
            "grant_type=client_credentials",
            "application/x-www-form-urlencoded",
            "unsupported_grant_type",
        ),
        ('{"grant_type": "password"}', "application/json", "invalid_request"),
        (
            "grant_type=password&grant_type=refresh_token",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        ("", "application/x-www-form-urlencoded", "invalid_request"),
    ],
)
async def test_malformed_token_requests_get_rfc6749_errors(
    auth: httpx.AsyncClient, body: str, content_type: str, error: str
) -> None:
    response = await auth.post(
        "/auth/token", content=body.encode(), headers={**INTERNAL, "content-type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_disabled_user_cannot_log_in_or_refresh(auth: httpx.AsyncClient) -> None:
    await create_user(auth, "gina")
    token = (await login(auth, "gina", "user-password-1")).json()["refresh_token"]
    await auth.patch("/auth/users/gina", json={"disabled": True}, headers=ADMIN)
    assert (await login(auth, "gina", "user-password-1")).json()["error"] == "invalid_grant"
    assert (await refresh(auth, token)).status_code == 400


async def test_unknown_parameters_are_ignored_even_repeated(auth: httpx.AsyncClient) -> None:
    form = "grant_type=password&username=admin&password=admin-password-for-tests&x=1&x=2"
    headers = {**INTERNAL, "content-type": "application/x-www-form-urlencoded"}
    response = await auth.post("/auth/token", content=form, headers=headers)
    assert response.status_code == 200


async def test_a_repeated_parameter_is_invalid_request(auth: httpx.AsyncClient) -> None:
    form = "grant_type=password&username=admin&username=admin&password=admin-password-for-tests"
    headers = {**INTERNAL, "content-type": "application/x-www-form-urlencoded"}
    response = await auth.post("/auth/token", content=form, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
