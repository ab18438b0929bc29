"""A fake auth-service for gateway tests: real Ed25519 keys, a real JWKS and introspection
served over HTTP on loopback, tokens signed with PyJWT, and a gateway started in front."""

import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.config import Settings
from gateway.edge import Edge
from gateway.main import create_app
from servir_runtime.processes import free_port
from shared_schemas.apikey_format import API_KEY_PREFIX, API_KEY_SECRET_BYTES
from shared_schemas.auth import Introspection, Jwk, Jwks
from tests.conftest import serve_in_process
from tests.gateway.upstreams import Upstream, running_upstream

ISSUER = "servir-auth"
AUDIENCE = "servir"
JWKS_PATH = "/.well-known/jwks.json"
INTROSPECT_PATH = "/internal/introspect"


@dataclass
class Signer:
    """One Ed25519 signing key and its kid, as the auth-service holds it."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def jwk(self) -> Jwk:
        """The public key as the JWKS publishes it."""
        x = jwt.utils.base64url_encode(self.public_bytes()).decode()
        return Jwk(kty="OKP", kid=self.kid, alg="EdDSA", crv="Ed25519", x=x)

    def token(self, **overrides: Any) -> str:
        """A signed access token; `overrides` replace claims (None removes one)."""
        return jwt.encode(
            claims(**overrides), self.private, algorithm="EdDSA", headers={"kid": self.kid}
        )


def claims(**overrides: Any) -> dict[str, Any]:
    """Access-token claims as the auth-service issues them, with fractional iat/nbf."""
    now = time.time()
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "scope": "models:read models:predict",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": int(now) + 900,
        "typ": "access",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


@dataclass
class FakeAuth:
    """What the fake auth-service publishes and knows."""

    signers: list[Signer] = field(default_factory=lambda: [Signer()])
    keys: dict[str, Introspection] = field(default_factory=dict)
    introspected: list[str] = field(default_factory=list)  # every token asked about, in order

    @property
    def signer(self) -> Signer:
        """The first (current) signing key."""
        return self.signers[0]

    def add_key(self, *, owner: str = "bob", scope: str = "models:read") -> tuple[str, str]:
        """A new active API key; returns (key, key id)."""
        key_id, key = uuid.uuid4().hex[:8], new_api_key()
        self.keys[key] = Introspection(
            active=True, sub=owner, scope=scope, token_type="api_key", jti=key_id
        )
        return key, key_id

    def jwks(self, _body: bytes) -> tuple[int, bytes]:
        """GET /.well-known/jwks.json."""
        return 200, Jwks(keys=[signer.jwk() for signer in self.signers]).model_dump_json().encode()

    def introspect(self, body: bytes) -> tuple[int, bytes]:
        """POST /internal/introspect (form: token=...)."""
        token = parse_qs(body.decode()).get("token", [""])[0]
        self.introspected.append(token)
        answer = self.keys.get(token, Introspection(active=False))
        return 200, answer.model_dump_json(exclude_none=True).encode()


def new_api_key() -> str:
    """A random key of the shape the auth-service mints (known to no one until added)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_SECRET_BYTES)


def closed_url() -> str:
    """An HTTP URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


def gateway_settings(
    *, auth: str, model: str, redis_url: str | None = None, **extra: Any
) -> Settings:
    """Gateway settings for a test: given upstreams, Redis (dead unless given); `extra` wins."""
    fields: dict[str, Any] = {
        "auth_service_url": auth,
        "model_service_url": model,
        "redis_url": redis_url or f"redis://127.0.0.1:{free_port()}/0",
        "metrics_port": 0,
    }
    return Settings.model_validate(fields | extra)


@dataclass
class Stack:
    """A gateway in front of a fake auth-service and a recording model-service."""

    client: httpx.AsyncClient
    fake: FakeAuth
    auth: Upstream
    model: Upstream
    app: Edge


@asynccontextmanager
async def running_stack(
    fake: FakeAuth | None = None, *, redis_url: str | None = None, **extra: Any
) -> AsyncIterator[Stack]:
    """Serve the fake auth-service and a model-service, and a gateway in front of both."""
    fake = fake or FakeAuth()
    handlers = {JWKS_PATH: fake.jwks, INTROSPECT_PATH: fake.introspect}
    async with running_upstream("record", handlers) as auth, running_upstream("record") as model:
        settings = gateway_settings(auth=auth.url, model=model.url, redis_url=redis_url, **extra)
        app = create_app(settings)
        async with serve_in_process(app) as client:
            yield Stack(client=client, fake=fake, auth=auth, model=model, app=app)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}
