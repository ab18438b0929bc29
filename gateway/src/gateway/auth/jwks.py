"""The auth-service's public signing keys, kept in memory by `kid`.

Verifying a token never waits on the network unless its `kid` is unknown, and then at most
one refetch per `min_refetch_seconds` is made, so forged kids cannot flood the auth-service.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.utils import base64url_decode

from servir_runtime.problems import ServiceError
from shared_schemas.auth import SIGNING_ALGORITHM, Jwk, Jwks

logger = logging.getLogger("gateway.jwks")

Fetch = Callable[[], Awaitable[Jwks]]
ED25519_KEY_BYTES = 32
RETRY_SECONDS = 0.5
STALE_REFETCH_SECONDS = 0.1


def ed25519_key(jwk: Jwk) -> Ed25519PublicKey | None:
    """The Ed25519 public key a JWK holds, or None for any other kind of key."""
    if jwk.kty != "OKP" or jwk.crv != "Ed25519" or jwk.alg != SIGNING_ALGORITHM or not jwk.x:
        return None
    try:
        raw = base64url_decode(jwk.x)
    except ValueError:
        return None
    if len(raw) != ED25519_KEY_BYTES:
        return None
    return Ed25519PublicKey.from_public_bytes(raw)


class SigningKeys:
    """Public keys by kid, refreshed periodically, on demand and on a `signing_keys` event."""

    def __init__(self, *, fetch: Fetch, refresh_seconds: float, min_refetch_seconds: float) -> None:
        self._fetch = fetch
        self._refresh_seconds = refresh_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._last_attempt = -math.inf
        self._last_fetch_ok = False
        self._lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self.loaded = False  # True once a JWKS was fetched: unknown kids are then forgeries
        self.generation = 0  # moves whenever the set of keys changes

    async def key_for(self, kid: str) -> Ed25519PublicKey | None:
        """The key with this kid; an unknown kid refetches once per minimum interval."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:  # concurrent unknown kids share one refetch
            if kid in self._keys:
                return self._keys[kid]
            if not self._last_fetch_ok:
                # A restarting auth-service announces its new key before it serves: wait out
                # the short retry interval rather than refuse, then refetch whatever the clock
                # says (uvloop's millisecond timers may end the wait a little early). The
                # lock and the wait keep this to one fetch per interval.
                await asyncio.sleep(
                    max(0.0, self._last_attempt + STALE_REFETCH_SECONDS - time.monotonic())
                )
                await self._refresh()
            elif time.monotonic() - self._last_attempt >= self._min_refetch_seconds:
                await self._refresh()
            return self._keys.get(kid)

    def request_refresh(self) -> None:
        """Refetch soon, whatever the interval: the auth-service says its keys changed."""
        self._wakeup.set()

    async def run(self) -> None:
        """Fetch now, then every refresh interval or when asked; never returns."""
        while True:
            self._wakeup.clear()
            async with self._lock:
                fetched = await self._refresh()
            # A failed fetch is retried soon: the `signing_keys` event of a restarting
            # auth-service arrives before it serves, and a retired key must not outlive it.
            delay = self._refresh_seconds if fetched else RETRY_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)

    async def _refresh(self) -> bool:
        self._last_attempt = time.monotonic()
        try:
            jwks = await self._fetch()
        except ServiceError as exc:
            logger.warning("jwks fetch failed", extra={"reason": exc.detail})
            self._last_fetch_ok = False
            return False
        keys = {jwk.kid: key for jwk in jwks.keys if (key := ed25519_key(jwk)) is not None}
        if _raw(keys) != _raw(self._keys) or not self.loaded:
            logger.info("jwks loaded", extra={"kids": sorted(keys)})
            self.generation += 1
        self._keys = keys
        self.loaded = True
        self._last_fetch_ok = True
        return True


def _raw(keys: dict[str, Ed25519PublicKey]) -> dict[str, bytes]:
    return {kid: key.public_bytes_raw() for kid, key in keys.items()}
