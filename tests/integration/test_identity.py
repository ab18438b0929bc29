"""Identity end to end, through the gateway alone: tokens, scopes, keys, revocation."""

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.integration.conftest import RunningStack
from tests.integration.identity import (
    USER_PASSWORD,
    admin_token,
    bearer,
    claims_for,
    eventually_refused,
    hmac_with_public_key,
    login,
    new_user,
    signed,
    tampered,
    unique,
    unsigned,
)

pytestmark = pytest.mark.integration
PROTECTED = "/v2"  # models:read


def test_curl_story_admin_user_key_revoke(gateway: httpx.Client, stack: RunningStack) -> None:
    admin = admin_token(gateway, stack)
    username = unique("story")
    created = gateway.post(
        "/auth/users", json={"username": username, "password": USER_PASSWORD}, headers=bearer(admin)
    )
    assert created.status_code == 201
    user = login(gateway, username, USER_PASSWORD).json()["access_token"]
    key = gateway.post("/auth/api-keys", json={"name": "laptop"}, headers=bearer(user)).json()
    with_key = {"X-API-Key": key["key"]}
    assert gateway.get(PROTECTED, headers=with_key).status_code == 200
    assert gateway.get("/auth/me", headers=with_key).json()["username"] == username
    assert gateway.post("/auth/revoke", data={"token": key["key"]}).status_code == 200
    eventually_refused(lambda: gateway.get(PROTECTED, headers=with_key))


def test_no_credential_is_401_with_bearer_challenge(gateway: httpx.Client) -> None:
    response = gateway.get(PROTECTED)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


def test_public_routes_ignore_basic_authorization(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    form = {"grant_type": "password", "username": "admin", "password": stack.admin_password}
    response = gateway.post(
        "/auth/token", data=form, headers={"Authorization": "Basic Zm9vOmJhcg=="}
    )
    assert response.status_code == 200
    assert gateway.get("/v2/health/ready", headers={"Authorization": "Basic x"}).status_code == 200


def test_missing_scope_is_403_insufficient_scope(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    _, reader = new_user(gateway, stack, "reader", scopes=["models:read"])
    response = gateway.post("/v2/models/iris/infer", json={"inputs": []}, headers=bearer(reader))
    admin_only = gateway.get("/auth/users", headers=bearer(reader))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert "models:predict" in response.json()["detail"]
    assert admin_only.status_code == 403


def _forged(stack: RunningStack, gateway: httpx.Client, username: str) -> dict[str, str]:
    assert stack.signing_key is not None, "set SERVIR_STACK_SIGNING_KEY_FILE for a running stack"
    key = stack.signing_key
    kid = gateway.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    foreign = Ed25519PrivateKey.generate()
    good = signed(key, kid, claims_for(username))
    return {
        "alg none": unsigned(kid, claims_for(username)),
        "HS256 keyed with the public key": hmac_with_public_key(key, kid, claims_for(username)),
        "a foreign key under our kid": signed(foreign, kid, claims_for(username)),
        "an unknown kid": signed(foreign, "no-such-kid", claims_for(username)),
        "a tampered payload": tampered(good, scope="models:admin users:admin"),
        "expired": signed(
            key, kid, claims_for(username, exp=1_000_000_000, iat=999_999_000.0, nbf=999_999_000.0)
        ),
        "a wrong audience": signed(key, kid, claims_for(username, aud="someone-else")),
        "a wrong issuer": signed(key, kid, claims_for(username, iss="https://evil.example")),
        "a refresh-typed token": signed(key, kid, claims_for(username, typ="refresh")),
        "no jti": signed(key, kid, {k: v for k, v in claims_for(username).items() if k != "jti"}),
    }


def test_forged_tokens_are_refused(gateway: httpx.Client, stack: RunningStack) -> None:
    username, _ = new_user(gateway, stack, "forged")
    assert stack.signing_key is not None
    kid = gateway.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    honest = signed(stack.signing_key, kid, claims_for(username))
    assert gateway.get(PROTECTED, headers=bearer(honest)).status_code == 200
    for name, token in _forged(stack, gateway, username).items():
        response = gateway.get(PROTECTED, headers=bearer(token))
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name


def test_refresh_token_is_not_an_access_token(gateway: httpx.Client, stack: RunningStack) -> None:
    issued = login(gateway, "admin", stack.admin_password).json()
    assert gateway.get(PROTECTED, headers=bearer(issued["refresh_token"])).status_code == 401


def test_refresh_rotates_through_the_gateway_and_reuse_kills_the_family(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    first = login(gateway, "admin", stack.admin_password).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": first}
    rotated = gateway.post("/auth/token", data=form)
    assert rotated.status_code == 200
    assert gateway.get(PROTECTED, headers=bearer(rotated.json()["access_token"])).status_code == 200
    assert gateway.post("/auth/token", data=form).json()["error"] == "invalid_grant"
    second = {"grant_type": "refresh_token", "refresh_token": rotated.json()["refresh_token"]}
    assert gateway.post("/auth/token", data=second).status_code == 400


def test_revoked_access_token_is_refused_within_a_second(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    _, token = new_user(gateway, stack, "revoked")
    assert gateway.get(PROTECTED, headers=bearer(token)).status_code == 200
    assert gateway.post("/auth/revoke", data={"token": token}).status_code == 200
    eventually_refused(lambda: gateway.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("change", ["password", "disable", "delete"])
def test_user_changes_void_earlier_tokens_and_keys(
    gateway: httpx.Client, stack: RunningStack, change: str
) -> None:
    username, token = new_user(gateway, stack, f"change-{change}")
    key = gateway.post("/auth/api-keys", json={"name": "k"}, headers=bearer(token)).json()["key"]
    assert gateway.get(PROTECTED, headers={"X-API-Key": key}).status_code == 200
    admin = bearer(admin_token(gateway, stack))
    if change == "password":
        body = {"current_password": USER_PASSWORD, "new_password": "a-new-password-2"}
        assert (
            gateway.post("/auth/me/password", json=body, headers=bearer(token)).status_code == 204
        )
    elif change == "disable":
        assert (
            gateway.patch(
                f"/auth/users/{username}", json={"disabled": True}, headers=admin
            ).status_code
            == 200
        )
    else:
        assert gateway.delete(f"/auth/users/{username}", headers=admin).status_code == 204
    eventually_refused(lambda: gateway.get(PROTECTED, headers=bearer(token)))
    if change == "password":
        fresh = login(gateway, username, "a-new-password-2").json()["access_token"]
        assert gateway.get(PROTECTED, headers=bearer(fresh)).status_code == 200
        assert gateway.get(PROTECTED, headers={"X-API-Key": key}).status_code == 200
    else:
        eventually_refused(lambda: gateway.get(PROTECTED, headers={"X-API-Key": key}))


def test_another_users_api_key_can_be_neither_read_nor_deleted(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    _, owner = new_user(gateway, stack, "owner")
    _, other = new_user(gateway, stack, "other")
    key_id = gateway.post("/auth/api-keys", json={"name": "mine"}, headers=bearer(owner)).json()[
        "id"
    ]
    assert gateway.get("/auth/api-keys", headers=bearer(other)).json() == []
    theirs = gateway.delete(f"/auth/api-keys/{key_id}", headers=bearer(other))
    unknown = gateway.delete("/auth/api-keys/ffffffffffffffff", headers=bearer(other))
    assert theirs.status_code == unknown.status_code == 404
    assert [key["id"] for key in gateway.get("/auth/api-keys", headers=bearer(owner)).json()] == [
        key_id
    ]


def test_login_throttling_through_the_gateway(gateway: httpx.Client, stack: RunningStack) -> None:
    username, _ = new_user(gateway, stack, "throttled")
    other, _ = new_user(gateway, stack, "unthrottled")
    for _ in range(5):
        assert login(gateway, username, "wrong-password").status_code == 400
    throttled = login(gateway, username, USER_PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert login(gateway, other, USER_PASSWORD).status_code == 200


def test_unknown_user_and_wrong_password_look_alike(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    username, _ = new_user(gateway, stack, "alike")
    wrong = login(gateway, username, "nope-nope")
    unknown = login(gateway, unique("ghost"), "nope-nope")
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())


def test_token_claims_match_api_md(gateway: httpx.Client, stack: RunningStack) -> None:
    token = admin_token(gateway, stack)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "scope", "jti", "iat", "exp", "typ"} <= claims.keys()
    assert jwt.get_unverified_header(token)["kid"] in {
        key["kid"] for key in gateway.get("/.well-known/jwks.json").json()["keys"]
    }


def test_a_narrow_token_cannot_mint_a_wider_api_key(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    narrow = login(gateway, "admin", stack.admin_password, scope="models:read").json()
    created = gateway.post(
        "/auth/api-keys", json={"name": "ci"}, headers=bearer(narrow["access_token"])
    )
    assert created.status_code == 201
    assert created.json()["scopes"] == ["models:read"]
    key = {"X-API-Key": created.json()["key"]}
    assert gateway.get(PROTECTED, headers=key).status_code == 200
    assert gateway.get("/auth/users", headers=key).status_code == 403
    wider = gateway.post(
        "/auth/api-keys",
        json={"name": "ci", "scopes": ["users:admin"]},
        headers=bearer(narrow["access_token"]),
    )
    assert wider.status_code == 403


def test_refresh_reuse_stops_the_familys_access_tokens(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    username, _ = new_user(gateway, stack, "reuse")
    first = login(gateway, username, USER_PASSWORD).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = gateway.post("/auth/token", data=form).json()
    for issued in (first, second):
        assert gateway.get(PROTECTED, headers=bearer(issued["access_token"])).status_code == 200
    assert gateway.post("/auth/token", data=form).json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        eventually_refused(lambda token=token: gateway.get(PROTECTED, headers=bearer(token)))


def test_a_recreated_username_does_not_revive_old_credentials(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    username, _ = new_user(gateway, stack, "reborn")
    old = login(gateway, username, USER_PASSWORD).json()
    admin = bearer(admin_token(gateway, stack))
    assert gateway.delete(f"/auth/users/{username}", headers=admin).status_code == 204
    body = {"username": username, "password": USER_PASSWORD}
    assert gateway.post("/auth/users", json=body, headers=admin).status_code == 201
    form = {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]}
    assert gateway.post("/auth/token", data=form).json()["error"] == "invalid_grant"
    eventually_refused(lambda: gateway.get(PROTECTED, headers=bearer(old["access_token"])))
    fresh = login(gateway, username, USER_PASSWORD).json()
    assert gateway.get(PROTECTED, headers=bearer(fresh["access_token"])).status_code == 200


def test_password_change_guesses_are_throttled_through_the_gateway(
    gateway: httpx.Client, stack: RunningStack
) -> None:
    username, token = new_user(gateway, stack, "oracle")
    body = {"current_password": "a-wrong-guess", "new_password": "a-new-password-2"}
    for _ in range(5):
        guess = gateway.post("/auth/me/password", json=body, headers=bearer(token))
        assert guess.status_code == 403
    refused = gateway.post("/auth/me/password", json=body, headers=bearer(token))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) > 0
    assert login(gateway, username, USER_PASSWORD).status_code == 429
