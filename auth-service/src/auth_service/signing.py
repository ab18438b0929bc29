"""Signing keys: Ed25519, several at once for rotation, one active, persisted across restarts."""

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.config import Settings
from shared_schemas.auth import JWT_HEADER_TYPE, SIGNING_ALGORITHM, Jwk, Jwks

logger = logging.getLogger("servir.keys")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key pair; its id is the RFC 7638 thumbprint of its public JWK."""

    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> "SigningKey":
        """Wrap a private key, deriving its kid."""
        x = _b64url(private.public_key().public_bytes_raw())
        canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'.encode()
        return cls(kid=_b64url(hashlib.sha256(canonical).digest()), private=private)

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        """Load a PKCS#8 PEM Ed25519 private key."""
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("signing keys must be Ed25519")
        return cls.from_private(private)

    def pem(self) -> bytes:
        """The private key as PKCS#8 PEM."""
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwk(self) -> Jwk:
        """The public half as a JWK."""
        x = _b64url(self.private.public_key().public_bytes_raw())
        return Jwk(kty="OKP", crv="Ed25519", x=x, kid=self.kid, alg=SIGNING_ALGORITHM)


class KeyRing:
    """The keys that verify tokens; the active one signs."""

    def __init__(self, keys: list[SigningKey], active: SigningKey) -> None:
        self.keys = {key.kid: key for key in keys}
        self.active = active

    def jwks(self) -> Jwks:
        """Every public key, the active one first."""
        others = [key.jwk() for kid, key in self.keys.items() if kid != self.active.kid]
        return Jwks(keys=[self.active.jwk(), *others])

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of `claims` with the active key."""
        headers = {"kid": self.active.kid, "typ": JWT_HEADER_TYPE}
        return jwt.encode(claims, self.active.private, algorithm=SIGNING_ALGORITHM, headers=headers)

    def decode(self, token: str, *, issuer: str, audience: str, verify_exp: bool) -> dict[str, Any]:
        """Verified claims of one of our tokens; raises jwt.PyJWTError otherwise."""
        kid = jwt.get_unverified_header(token).get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidKeyError("unknown kid")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private.public_key(),
            algorithms=[SIGNING_ALGORITHM],
            issuer=issuer,
            audience=audience,
            leeway=30,
            options={"verify_exp": verify_exp, "require": ["iss", "aud", "sub", "jti", "exp"]},
        )
        return claims


def _key_files(keys_dir: Path) -> list[Path]:
    if not keys_dir.is_dir():
        return []
    return sorted(keys_dir.glob("*.pem"), key=lambda path: (path.stat().st_mtime, path.name))


def _generate(keys_dir: Path) -> SigningKey:
    key = SigningKey.from_private(Ed25519PrivateKey.generate())
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = keys_dir / f"{key.kid}.pem"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.pem())
    logger.info("generated a signing key", extra={"kid": key.kid, "path": str(path)})
    return key


def load_key_ring(settings: Settings) -> KeyRing:
    """Keys from `AUTH_SIGNING_KEY` and `AUTH_KEYS_DIR`, less the retired ones; generates one
    in development when there is none. The active key: `AUTH_ACTIVE_KEY_ID`, else the
    settings key, else the newest file."""
    keys: list[SigningKey] = []
    if settings.signing_key is not None:
        keys.append(SigningKey.from_pem(settings.signing_key.get_secret_value().encode()))
    keys.extend(SigningKey.from_pem(path.read_bytes()) for path in _key_files(settings.keys_dir))
    retired = set(settings.retired_key_ids)
    keys = [key for key in keys if key.kid not in retired]
    if not keys:
        if not settings.may_generate_key:
            msg = "no signing key: set AUTH_SIGNING_KEY or put a key in AUTH_KEYS_DIR"
            raise RuntimeError(msg)
        keys.append(_generate(settings.keys_dir))
    by_id = {key.kid: key for key in keys}
    if settings.active_key_id is not None and settings.active_key_id not in by_id:
        raise RuntimeError(f"AUTH_ACTIVE_KEY_ID {settings.active_key_id} is not a loaded key")
    default = keys[0] if settings.signing_key is not None else keys[-1]
    active = by_id.get(settings.active_key_id or "", default)
    return KeyRing(keys, active)
