"""Bearer tokens are verified at the gateway: only EdDSA access tokens signed by a published
key pass, with the identity forwarded and the token itself kept at the door."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.auth.jwks import SigningKeys
from gateway.errors import UpstreamUnavailable
from shared_schemas.auth import Jwks
from tests.gateway.fake_auth import (
    JWKS_PATH,
    FakeAuth,
    Signer,
    Stack,
    bearer,
    claims,
    closed_url,
    running_stack,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

INVALID_TOKEN = 'Bearer realm="servir", error="invalid_token"'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def forge_alg_none(signer: Signer) -> str:
    return compact({"alg": "none", "kid": signer.kid}, claims(), lambda _: b"")


def forge_hs256_with_raw_public_key(signer: Signer) -> str:
    return compact({"alg": "HS256", "kid": signer.kid}, claims(), hs256(signer.public_bytes()))


def forge_hs256_with_pem_public_key(signer: Signer) -> str:
    pem = signer.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return compact({"alg": "HS256", "kid": signer.kid}, claims(), hs256(pem))


def forge_foreign_key_under_our_kid(signer: Signer) -> str:
    return Signer(kid=signer.kid).token()


def forge_unknown_kid(_signer: Signer) -> str:
    return Signer().token()


def forge_no_kid(signer: Signer) -> str:
    header = {"alg": "EdDSA"}
    return compact(header, claims(), signer.private.sign)


def forge_tampered_payload(signer: Signer) -> str:
    header, _, signature = signer.token(scope="models:read").split(".")
    elevated = b64(json.dumps(claims(scope="users:admin models:admin")).encode())
    return f"{header}.{elevated}.{signature}"


def forge_claims(**overrides: Any) -> Callable[[Signer], str]:
    return lambda signer: signer.token(**overrides)


FORGERIES = {
    "alg_none": forge_alg_none,
    "hs256_raw_public_key": forge_hs256_with_raw_public_key,
    "hs256_pem_public_key": forge_hs256_with_pem_public_key,
    "foreign_key_under_our_kid": forge_foreign_key_under_our_kid,
    "unknown_kid": forge_unknown_kid,
    "no_kid": forge_no_kid,
    "tampered_payload": forge_tampered_payload,
    "expired": forge_claims(exp=int(time.time()) - 120),
    "not_yet_valid": forge_claims(nbf=time.time() + 120),
    "wrong_audience": forge_claims(aud="someone-else"),
    "wrong_issuer": forge_claims(iss="https://evil.example"),
    "refresh_type": forge_claims(typ="refresh"),
    "missing_type": forge_claims(typ=None),
    "missing_jti": forge_claims(jti=None),
    "not_a_jwt": lambda _signer: "not.a.jwt",
}


async def wait_for_jwks(stack: Stack, fetches: int = 1) -> None:
    deadline = time.monotonic() + 5
    while stack.auth.handled.count(JWKS_PATH) < fetches:
        assert time.monotonic() < deadline, "the gateway never fetched the JWKS"
        await asyncio.sleep(0.01)


async def test_token_valid_is_forwarded_with_identity_and_without_credentials() -> None:
    async with running_stack() as stack:
        token = stack.fake.signer.token(sub="alice", scope="models:read models:predict")
        response = await stack.client.post("/models/iris/predict", headers=bearer(token))
    assert response.status_code == 200
    sent = dict(stack.model.headers())
    assert sent["x-servir-principal"] == "alice"
    assert sent["x-servir-scopes"] == "models:read models:predict"
    assert "authorization" not in sent


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_token_forged_is_refused(forge: Callable[[Signer], str]) -> None:
    async with running_stack() as stack:
        response = await stack.client.get("/models", headers=bearer(forge(stack.fake.signer)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID_TOKEN
    assert response.headers["content-type"] == "application/problem+json"
    assert stack.model.requests == []


async def test_token_unknown_kid_refetches_at_most_once_per_interval() -> None:
    async with running_stack(jwks_min_refetch_seconds=60) as stack:
        await wait_for_jwks(stack)
        before = stack.auth.handled.count(JWKS_PATH)
        tokens = [Signer().token() for _ in range(5)]
        replies = await asyncio.gather(
            *(stack.client.get("/models", headers=bearer(token)) for token in tokens)
        )
        after = stack.auth.handled.count(JWKS_PATH)
    assert [reply.status_code for reply in replies] == [401] * 5
    assert after - before <= 1


async def test_token_from_rotated_key_is_accepted_after_one_refetch() -> None:
    async with running_stack(jwks_min_refetch_seconds=0.5) as stack:
        await wait_for_jwks(stack)
        await asyncio.sleep(0.6)
        before = stack.auth.handled.count(JWKS_PATH)
        stack.fake.signers.append(Signer())
        token = stack.fake.signers[-1].token()
        replies = await asyncio.gather(
            *(stack.client.get("/models", headers=bearer(token)) for _ in range(5))
        )
        unknown = await stack.client.get("/models", headers=bearer(Signer().token()))
        after = stack.auth.handled.count(JWKS_PATH)
    assert [reply.status_code for reply in replies] == [200] * 5
    assert unknown.status_code == 401
    assert after - before == 1


async def test_token_missing_scope_is_403_naming_it() -> None:
    async with running_stack() as stack:
        token = stack.fake.signer.token(scope="models:read")
        response = await stack.client.post("/v2/models/iris/infer", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="servir", error="insufficient_scope", scope="models:predict"'
    )
    body = response.json()
    assert body["title"] == "Forbidden"
    assert "models:predict" in body["detail"]
    assert stack.model.requests == []


async def test_token_user_routes_need_users_admin() -> None:
    async with running_stack() as stack:
        user = stack.fake.signer.token(scope="models:read models:predict models:admin")
        admin = stack.fake.signer.token(sub="root", scope="users:admin")
        refused = await stack.client.get("/auth/users", headers=bearer(user))
        allowed = await stack.client.get("/auth/users", headers=bearer(admin))
        own = await stack.client.get("/auth/me", headers=bearer(user))
    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert own.status_code == 200


async def test_request_without_credential_is_401_with_bearer_challenge() -> None:
    async with running_stack() as stack:
        response = await stack.client.get("/models")
        basic = await stack.client.get("/models", headers={"Authorization": "Basic YTpi"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="servir"'
    assert basic.status_code == 401
    assert stack.model.requests == []


async def test_request_with_token_and_api_key_is_401_invalid_request() -> None:
    async with running_stack() as stack:
        key, _ = stack.fake.add_key()
        headers = {**bearer(stack.fake.signer.token()), "X-API-Key": key}
        response = await stack.client.get("/models", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="servir", error="invalid_request"'


async def test_token_while_auth_service_never_answered_is_503() -> None:
    fake = FakeAuth()
    async with running_stack(fake, auth_service_url=closed_url()) as stack:
        response = await stack.client.get("/models", headers=bearer(fake.signer.token()))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("method", "path", "upstream"),
    [
        ("POST", "/auth/token", "auth"),
        ("POST", "/auth/revoke", "auth"),
        ("GET", "/v2/health/live", "model"),
        ("GET", "/v2/health/ready", "model"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Basic YWRtaW46c2VjcmV0"])
async def test_public_route_needs_no_credential(
    method: str, path: str, upstream: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with running_stack() as stack:
        response = await stack.client.request(method, path, headers=headers)
    assert response.status_code == 200
    sent = dict((stack.auth if upstream == "auth" else stack.model).headers())
    assert sent.get("authorization") == authorization
    assert "x-servir-principal" not in sent


@pytest.mark.parametrize("path", ["/livez", "/docs", "/openapi.json", "/.well-known/jwks.json"])
async def test_public_gateway_route_ignores_basic_authorization(path: str) -> None:
    async with running_stack() as stack:
        response = await stack.client.get(path, headers={"Authorization": "Basic YTpi"})
    assert response.status_code == 200


async def test_token_remembered_as_verified_still_expires() -> None:
    async with running_stack(jwt_leeway_seconds=0) as stack:
        expires = int(time.time()) + 1
        token = stack.fake.signer.token(exp=expires)
        first = await stack.client.get("/models", headers=bearer(token))
        second = await stack.client.get("/models", headers=bearer(token))
        await asyncio.sleep(expires - time.time() + 0.05)
        after = await stack.client.get("/models", headers=bearer(token))
    assert (first.status_code, second.status_code, after.status_code) == (200, 200, 401)
    assert after.json()["detail"] == "The access token has expired."


async def test_token_remembered_as_verified_dies_with_its_retired_key() -> None:
    async with running_stack(jwks_refresh_seconds=0.1) as stack:
        token = stack.fake.signer.token()
        assert (await stack.client.get("/models", headers=bearer(token))).status_code == 200
        stack.fake.signers[:] = [Signer()]  # the old key is retired from the JWKS
        started = time.monotonic()
        while (await stack.client.get("/models", headers=bearer(token))).status_code != 401:
            assert time.monotonic() - started < 2, "a token of a retired key still passes"
            await asyncio.sleep(0.02)


async def test_an_unknown_kid_just_after_a_failed_fetch_waits_for_the_retry() -> None:
    """A restarting auth-service announces its new key before it serves, so that fetch fails;
    a token signed with the new key may arrive within the retry interval. It waits out the
    interval and refetches, instead of a 401 (seen as a flaky key-rotation test)."""
    signer = Signer()
    calls = 0

    async def fetch() -> Jwks:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise UpstreamUnavailable("The auth-service is unreachable.", retry_after=1)
        return Jwks(keys=[signer.jwk()])

    keys = SigningKeys(fetch=fetch, refresh_seconds=300, min_refetch_seconds=5)
    assert await keys.key_for("other") is None  # the failed fetch
    assert await keys.key_for(signer.kid) is not None
    assert calls == 2


async def test_an_unknown_kid_refetches_even_if_the_wait_ends_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvloop's timers count whole milliseconds and may fire up to one early; the refetch after
    the wait must not depend on the clock having passed the retry interval (seen as a flaky
    key-rotation test: a 401 after exactly the interval, with no fetch in the log)."""
    signer = Signer()
    calls = 0
    real_sleep = asyncio.sleep

    async def fetch() -> Jwks:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise UpstreamUnavailable("The auth-service is unreachable.", retry_after=1)
        return Jwks(keys=[signer.jwk()])

    async def early_sleep(delay: float) -> None:
        await real_sleep(max(0.0, delay - 0.001))

    keys = SigningKeys(fetch=fetch, refresh_seconds=300, min_refetch_seconds=5)
    assert await keys.key_for("other") is None  # the failed fetch
    monkeypatch.setattr(asyncio, "sleep", early_sleep)
    assert await keys.key_for(signer.kid) is not None
    assert calls == 2
