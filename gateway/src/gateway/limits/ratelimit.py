"""Rate limits: fixed windows counted in Redis by one Lua script.

A window opens with a principal's (or client IP's) first request and lasts the policy's
`w` seconds; the first `q` requests in it pass. Exact policies (token, public, auth-failures)
cost one round trip per request. The `default` policy, when `GATEWAY_RATE_LIMIT_SYNC_MS` is
not 0, is counted in process and reconciled every sync interval (synced.py states the bound).
While Redis is unreachable the gateway counts in process instead (fail open, per gateway), and
a background probe returns to Redis within a second of its recovery.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.limits.synced import SyncedCounts
from gateway.limits.windows import LocalWindows
from gateway.routing.lookup import TABLE
from gateway.transport.redis_script import ScriptClient

logger = logging.getLogger("servir.gateway.ratelimit")

KEY_PREFIX = "servir:ratelimit:"
PROBE_SECONDS = 1.0
# INCRBY (1, or a replica's admissions since its last report), and set the expiry when the
# window opens (or was lost); reply the count and the milliseconds left in the window.
# Counters are kept out of the append-only file: Redis runs with `appendfsync always` for
# identities, and an fsync per request would cost milliseconds.
# A restarted Redis starts every window afresh.
SCRIPT = """
redis.set_repl(redis.REPL_NONE)
local count = redis.call('INCRBY', KEYS[1], ARGV[2] or 1)
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""
Headers = list[tuple[bytes, bytes]]


@lru_cache(maxsize=64)  # a few policies, asked on every limited answer
def _policy_header(name: str, quota: int, window: int) -> bytes:
    return f'"{name}";q={quota};w={window}'.encode()


@dataclass(frozen=True, slots=True)
class Policy:
    """`quota` requests per `window` seconds, under a name the headers carry."""

    name: str
    quota: int
    window: int
    # Admissions one replica may make before Redis has counted them (0: every one counted in
    # Redis first, exact); see synced.py.
    batch: int = 0

    @classmethod
    def parse(cls, name: str, text: str, *, local_percent: float = 0.0) -> "Policy":
        """`<count>/<seconds>`, e.g. `6000/60`; `local_percent` of the quota may be admitted
        by a replica before Redis counts it (rounded down: under one request, exact)."""
        count, _, seconds = text.partition("/")
        batch = int(int(count) * local_percent / 100)
        policy = cls(name, int(count), int(seconds), max(0, batch))
        if policy.quota < 1 or policy.window < 1:
            raise ValueError(f"rate limit {text!r}: count and seconds must be positive")
        return policy

    @property
    def header(self) -> bytes:
        """The `RateLimit-Policy` value (draft-ietf-httpapi-ratelimit-headers)."""
        return _policy_header(self.name, self.quota, self.window)


@dataclass(slots=True)  # not frozen: built per request, and a frozen __init__ costs 3x
class Decision:
    """One request counted against one policy."""

    policy: Policy
    allowed: bool
    remaining: int
    reset_seconds: int

    def headers(self) -> Headers:
        """`RateLimit-Policy` and `RateLimit`, plus `Retry-After` when refused."""
        state = f'"{self.policy.name}";r={self.remaining};t={self.reset_seconds}'.encode()
        headers = [(b"ratelimit-policy", self.policy.header), (b"ratelimit", state)]
        if not self.allowed:
            headers.append((b"retry-after", str(self.reset_seconds).encode()))
        return headers


def decide(policy: Policy, count: int, left_ms: float) -> Decision:
    """The decision for the `count`-th request of a window with `left_ms` to run."""
    return Decision(
        policy=policy,
        allowed=count <= policy.quota,
        remaining=max(0, policy.quota - count),
        reset_seconds=max(1, math.ceil(left_ms / 1000)),
    )


class RateLimiter:
    """Counts requests in Redis, or in process while Redis is unreachable."""

    def __init__(
        self,
        redis: Redis,
        *,
        script: ScriptClient | None = None,
        max_local_keys: int = 100_000,
        sync_seconds: float = 0.1,
        on_fallback: Callable[[bool], None] | None = None,
    ) -> None:
        self.redis = redis
        # The lean pipelined client when the URL allows (redis-py costs ~10x the CPU per call).
        self.client = script
        self.script = script.run if script is not None else _redis_py(redis)
        self.local = LocalWindows(max_keys=max_local_keys)
        # Policies with a batch (the default one) are counted here between reports to Redis.
        self.synced = SyncedCounts(
            self.script, interval=sync_seconds, max_keys=max_local_keys, on_error=self._fall_back
        )
        self.on_fallback = on_fallback
        self._probe: asyncio.Task[None] | None = None

    @property
    def fallback(self) -> bool:
        """True while counting in process."""
        return self._probe is not None

    async def check(self, policy: Policy, identity: str) -> Decision:
        """Count one request of `identity` under `policy`."""
        if self._probe is None:
            # The window length is part of the key: a changed policy starts afresh.
            key = f"{KEY_PREFIX}{policy.name}:{policy.window}:{identity}"
            window_ms = policy.window * 1000
            if policy.batch:
                counted = self.synced.admit(key, policy.quota, policy.batch)
                if counted is not None:
                    return decide(policy, *counted)
            try:
                if policy.batch:
                    count, left = await self.synced.exact(key, window_ms)
                else:
                    count, left = await self.script([key], [window_ms, 1])
            except (RedisError, OSError, TimeoutError) as exc:
                self._fall_back(exc)
            else:
                return decide(policy, int(count), float(left))
        count, left_ms = self.local.hit(
            f"{policy.name}:{identity}", policy.window, time.monotonic()
        )
        return decide(policy, count, left_ms)

    def _fall_back(self, exc: BaseException) -> None:
        if self._probe is not None:
            return
        logger.warning(
            "Redis unreachable (%s): rate limits counted in process until it is back",
            type(exc).__name__,
        )
        self.synced.clear()
        self._probe = asyncio.get_running_loop().create_task(self._wait_for_redis())
        if self.on_fallback is not None:
            self.on_fallback(True)

    async def _wait_for_redis(self) -> None:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                await self.redis.ping()
            except (RedisError, OSError, TimeoutError):
                continue
            break
        logger.warning("Redis is back: rate limits shared again")
        self._probe = None
        self.local.clear()
        if self.on_fallback is not None:
            self.on_fallback(False)

    async def aclose(self) -> None:
        """Stop the probe, if one runs, and close the script's connection."""
        await self.synced.aclose()
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()


RunScript = Callable[[list[str], list[str | int]], Awaitable[Any]]


def _redis_py(redis: Redis) -> RunScript:
    script = redis.register_script(SCRIPT)

    async def run(keys: list[str], args: list[str | int]) -> Any:
        return await script(keys=keys, args=args)

    return run


class RouteLimits:
    """Which policy a request falls under (docs/api.md, the route table's `limit`), counted by a
    `RateLimiter`.

    A principal counts under `default`. Without one (a public route), the client IP counts
    under `token` on the token endpoint and under `public` on any other write: each costs the
    auth-service work before anyone is known. Public reads (JWKS) are not counted.
    """

    def __init__(
        self, limiter: RateLimiter | None, *, default: Policy, token: Policy, public: Policy
    ) -> None:
        self.limiter = limiter
        self.default = default
        self.token = token
        self.public = public
        self.anonymous = {"token": token, "public": public}

    async def check(
        self, *, method: str, path: str, principal: str | None, client_ip: str | None
    ) -> Decision | None:
        """The decision for this request, or None when no limit applies."""
        if self.limiter is None:
            return None
        if principal is not None:
            return await self.limiter.check(self.default, principal)
        if client_ip is None:
            return None
        policy = self.anonymous.get(TABLE.place(path).limit(method) or "")
        if policy is None:
            return None
        return await self.limiter.check(policy, client_ip)
