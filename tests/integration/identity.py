"""Helpers for identity tests through the gateway: log in, make users, forge tokens."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.integration.conftest import RunningStack

USER_PASSWORD = "integration-password-1"


def unique(prefix: str) -> str:
    """A username no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def login(gateway: httpx.Client, username: str, password: str, **extra: str) -> httpx.Response:
    """POST /auth/token, password grant."""
    form = {"grant_type": "password", "username": username, "password": password, **extra}
    return gateway.post("/auth/token", data=form)


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def admin_token(gateway: httpx.Client, stack: RunningStack) -> str:
    """A fresh access token of the bootstrap admin."""
    response = login(gateway, "admin", stack.admin_password)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def new_user(
    gateway: httpx.Client, stack: RunningStack, prefix: str, scopes: list[str] | None = None
) -> tuple[str, str]:
    """Create a user as the admin; return (username, access token)."""
    username = unique(prefix)
    body: dict[str, Any] = {"username": username, "password": USER_PASSWORD}
    if scopes is not None:
        body["scopes"] = scopes
    created = gateway.post("/auth/users", json=body, headers=bearer(admin_token(gateway, stack)))
    assert created.status_code == 201, created.text
    token = login(gateway, username, USER_PASSWORD).json()["access_token"]
    return username, token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(username: str, **overrides: Any) -> dict[str, Any]:
    """Claims the auth-service would issue, with `overrides` applied."""
    now = time.time()
    claims = {
        "iss": "servir-auth",
        "aud": "servir",
        "sub": username,
        "scope": "models:read models:predict",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": int(now) + 600,
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def signed(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any]) -> str:
    """A token signed as the auth-service signs (EdDSA, kid, at+jwt)."""
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"})


def unsigned(kid: str, claims: dict[str, Any]) -> str:
    """`alg: none`."""
    header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def hmac_with_public_key(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HS256 keyed with our public key's bytes."""
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    header = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def tampered(token: str, **changes: Any) -> str:
    """The same signature over a payload with `changes`."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def eventually_refused(call: Any, *, within: float = 1.0) -> float:
    """Repeat `call` until it answers 401; return how long that took (fails past `within`)."""
    started = time.monotonic()
    while (status := call().status_code) != 401:
        elapsed = time.monotonic() - started
        assert elapsed < within, f"still {status} after {elapsed:.2f}s"
        time.sleep(0.05)
    return time.monotonic() - started
