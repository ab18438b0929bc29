"""Builds the authenticator and runs its two background tasks for the app's lifetime:
the JWKS refresher and the revocation feed."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from gateway.auth.apikeys import ApiKeyVerifier
from gateway.auth.authentication import Authenticator
from gateway.auth.authfailures import FailedAuthLimit
from gateway.auth.authservice import AuthService
from gateway.auth.jwks import SigningKeys
from gateway.auth.revocation_feed import RevocationFeed
from gateway.auth.revocations import RevocationMirror
from gateway.auth.tokens import TokenVerifier
from gateway.config import Settings
from gateway.upstreams.upstream import Upstream

# Serving starts once the revocation state is loaded, or once Redis failed to give it:
# a restart must not open a window where revoked tokens pass, nor hang on a dead Redis.
FIRST_LOAD_WAIT_SECONDS = 5.0


def build_authenticator(
    settings: Settings, *, auth_upstream: Upstream, failures: FailedAuthLimit
) -> tuple[Authenticator, SigningKeys, RevocationMirror]:
    """The authenticator and the two stateful parts the background tasks keep current."""
    auth = AuthService(
        upstream=auth_upstream,
        internal_token=settings.internal_token.get_secret_value(),
        timeout=settings.auth_timeout_seconds,
    )
    keys = SigningKeys(
        fetch=auth.jwks,
        refresh_seconds=settings.jwks_refresh_seconds,
        min_refetch_seconds=settings.jwks_min_refetch_seconds,
    )
    mirror = RevocationMirror(grace_seconds=settings.jwt_leeway_seconds)
    tokens = TokenVerifier(
        keys=keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
        retry_after=settings.retry_after_seconds,
        max_remembered=settings.token_cache_max_entries,
    )
    api_keys = ApiKeyVerifier(
        introspect=auth.introspect,
        mirror=mirror,
        cache_seconds=settings.api_key_cache_seconds,
        stale_seconds=settings.api_key_stale_seconds,
        max_entries=settings.api_key_cache_max_entries,
        negative_seconds=settings.api_key_negative_cache_seconds,
        max_negative=settings.api_key_negative_cache_max_entries,
    )
    authenticator = Authenticator(
        tokens=tokens, api_keys=api_keys, mirror=mirror, failures=failures
    )
    return authenticator, keys, mirror


@asynccontextmanager
async def running_authenticator(
    settings: Settings, *, auth_upstream: Upstream, redis: Redis, failures: FailedAuthLimit
) -> AsyncIterator[Authenticator]:
    """An authenticator whose keys and revocations stay current until the block exits."""
    authenticator, keys, mirror = build_authenticator(
        settings, auth_upstream=auth_upstream, failures=failures
    )
    feed = RevocationFeed(
        redis_url=settings.redis_url,
        store=redis,
        mirror=mirror,
        connect_timeout=settings.redis_timeout_seconds,
        on_keys_changed=keys.request_refresh,
    )
    tasks = [
        asyncio.create_task(keys.run(), name="gateway-jwks"),
        asyncio.create_task(feed.run(), name="gateway-revocations"),
    ]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.first_attempt.wait(), timeout=FIRST_LOAD_WAIT_SECONDS)
        yield authenticator
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
