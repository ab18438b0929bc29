"""Signing keys: persisted, several at once, retirable; argon2id at OWASP's parameters."""

from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import Settings
from auth_service.passwords import Passwords
from auth_service.signing import SigningKey, load_key_ring
from tests.auth_service.conftest import login, running_auth
from tests.conftest import INTERNAL

pytestmark = pytest.mark.anyio


async def introspect(client: httpx.AsyncClient, token: str) -> dict[str, object]:
    response = await client.post("/internal/introspect", data={"token": token}, headers=INTERNAL)
    body: dict[str, object] = response.json()
    return body


async def test_restart_keeps_the_key_and_its_tokens_valid(auth_settings: Settings) -> None:
    async with running_auth(auth_settings) as first:
        access = (await login(first, "admin", "admin-password-for-tests")).json()["access_token"]
        kids = [
            key["kid"]
            for key in (await first.get("/.well-known/jwks.json", headers=INTERNAL)).json()["keys"]
        ]
    async with running_auth(auth_settings) as second:
        again = [
            key["kid"]
            for key in (await second.get("/.well-known/jwks.json", headers=INTERNAL)).json()["keys"]
        ]
        assert (await introspect(second, access))["active"] is True
    assert kids == again
    assert len(list(auth_settings.keys_dir.glob("*.pem"))) == 1


def write_key(keys_dir: Path) -> SigningKey:
    key = SigningKey.from_private(Ed25519PrivateKey.generate())
    keys_dir.mkdir(parents=True, exist_ok=True)
    (keys_dir / f"{key.kid}.pem").write_bytes(key.pem())
    return key


async def test_rotation_publishes_both_keys_and_retiring_one_voids_its_tokens(
    auth_settings: Settings,
) -> None:
    old = write_key(auth_settings.keys_dir)
    async with running_auth(auth_settings) as client:
        old_token = (await login(client, "admin", "admin-password-for-tests")).json()[
            "access_token"
        ]
    new = write_key(auth_settings.keys_dir)
    rotated = auth_settings.model_copy(update={"active_key_id": new.kid})
    async with running_auth(rotated) as client:
        published = [
            key["kid"]
            for key in (await client.get("/.well-known/jwks.json", headers=INTERNAL)).json()["keys"]
        ]
        assert published == [new.kid, old.kid]
        assert (await introspect(client, old_token))["active"] is True
    retired = rotated.model_copy(update={"retired_key_ids": [old.kid]})
    async with running_auth(retired) as client:
        published = [
            key["kid"]
            for key in (await client.get("/.well-known/jwks.json", headers=INTERNAL)).json()["keys"]
        ]
        assert published == [new.kid]
        assert await introspect(client, old_token) == {"active": False}


def test_key_from_settings_signs(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = Settings(signing_key=pem, keys_dir=tmp_path / "none")  # type: ignore[arg-type]
    ring = load_key_ring(settings)
    assert ring.active.kid == SigningKey.from_private(private).kid
    assert not (tmp_path / "none").exists()


def test_production_refuses_to_generate_a_key(tmp_path: Path) -> None:
    settings = Settings(
        env="production",
        internal_token="i" * 40,  # type: ignore[arg-type]
        admin_password="a-real-admin-password",  # type: ignore[arg-type]
        keys_dir=tmp_path / "keys",
    )
    with pytest.raises(RuntimeError, match="no signing key"):
        load_key_ring(settings)


def test_passwords_use_argon2id_at_owasp_minimum(auth_settings: Settings) -> None:
    hashed = Passwords(auth_settings).hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
