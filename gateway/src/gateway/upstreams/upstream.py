"""Forwarding a request to an upstream service over a pooled HTTP client."""

import asyncio
import json
from dataclasses import dataclass

from gateway.auth.access import Principal
from gateway.errors import BadPath, BadUpstreamReply, UpstreamTimeout, UpstreamUnavailable
from gateway.metrics import GatewayMetrics
from gateway.transport.h1client import BadReply, ConnectFailed, H1Pool, H1Reply, ReadTimeout
from gateway.upstreams.balancer import Balancer
from gateway.upstreams.breaker import Breaker, CircuitOpen
from servir_runtime.problems import ServiceError
from shared_schemas.health import CHECK_OK

Headers = list[tuple[bytes, bytes]]

# Hop-by-hop headers (RFC 9110 section 7.6.1) and those the client recomputes.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
INTERNAL_PREFIX = b"x-servir-"
REQUEST_ID = b"x-request-id"
INTERNAL_TOKEN = b"x-servir-internal-token"
PRINCIPAL = b"x-servir-principal"
SCOPES = b"x-servir-scopes"
# The client's address as the gateway saw it (the socket peer), e.g. for login throttling.
CLIENT_IP = b"x-servir-client-ip"
# The caller's credentials stop at the gateway: services learn who it is from X-Servir-*.
CREDENTIALS = frozenset({b"authorization", b"x-api-key"})
_HOP_BY_HOP_AND_CREDENTIALS = HOP_BY_HOP | CREDENTIALS
# The gateway sets its own Date and X-Request-ID; bodies pass as they came (encoding too).
_DROPPED_REPLY = HOP_BY_HOP | {REQUEST_ID, b"date", b"server"}


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """What the upstream answered, headers already cleaned for the caller."""

    status: int
    headers: Headers
    body: bytes


def _connection_tokens(headers: Headers) -> frozenset[bytes]:
    named = (value for key, value in headers if key == b"connection")
    return frozenset(token.strip().lower() for value in named for token in value.split(b","))


def upstream_headers(
    incoming: Headers,
    *,
    internal_token: bytes,
    request_id: str,
    principal: Principal | None = None,
    client_ip: str | None = None,
) -> Headers:
    """The caller's headers minus hop-by-hop and every `X-Servir-*`, plus the internal ones.

    With a `principal` (an authenticated route) its identity replaces the caller's credentials;
    without one (a public route) the headers pass as they came.
    """
    dropped = HOP_BY_HOP if principal is None else _HOP_BY_HOP_AND_CREDENTIALS
    if any(key == b"connection" for key, _ in incoming):
        dropped = dropped | _connection_tokens(incoming)
    kept = [
        (key, value)
        for key, value in incoming
        if key not in dropped and key != REQUEST_ID and not key.startswith(INTERNAL_PREFIX)
    ]
    kept.append((INTERNAL_TOKEN, internal_token))
    kept.append((REQUEST_ID, request_id.encode()))
    if client_ip is not None:
        kept.append((CLIENT_IP, client_ip.encode()))
    if principal is not None:
        kept.append((PRINCIPAL, principal.name.encode()))
        kept.append((SCOPES, " ".join(principal.scopes).encode()))
    return kept


def forward_target(*, path: str, raw_path: bytes | None, query: bytes) -> str:
    """The path and query to send upstream, exactly as the caller encoded them.

    Dot segments are refused: a client must not walk from `/auth/..` to a route the
    gateway never forwards, such as `/internal/*`.
    """
    # A dot segment follows a slash: most paths need no split.
    if "/." in path and any(segment in {".", ".."} for segment in path.split("/")):
        raise BadPath(f"No resource at {path}.")
    try:
        target = (raw_path or path.encode()).decode("ascii")
    except UnicodeDecodeError:
        raise BadPath("The path must be ASCII (percent-encode other bytes).") from None
    return f"{target}?{query.decode('latin-1')}" if query else target


class Upstream:
    """One upstream service: its replicas, their pools, and a circuit breaker."""

    def __init__(
        self,
        *,
        name: str,
        balancer: Balancer,
        breaker: Breaker,
        read_timeout: float,
        retry_after: int,
        metrics: GatewayMetrics,
    ) -> None:
        self.name = name
        self.balancer = balancer
        self.breaker = breaker
        self.read_timeout = read_timeout
        self.retry_after = retry_after
        self.metrics = metrics

    async def forward(
        self,
        *,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        wait_seconds: float | None = None,
    ) -> UpstreamReply:
        """Send one request to a replica; map failures to 503/504/502.

        A request whose connection failed (nothing sent) is retried once on another replica.
        `wait_seconds` replaces the read timeout (the gateway's own, shorter, calls).
        """
        probe = self._admit()
        timeout = self.read_timeout if wait_seconds is None else wait_seconds
        try:
            reply = await self._send(method, target, headers, body, timeout)
        except (ConnectFailed, ReadTimeout, BadReply) as exc:
            raise self._failed(exc, probe=probe) from None
        except BaseException:
            self.breaker.release(probe=probe)
            raise
        self.breaker.success(probe=probe)
        reply_headers = [(k, v) for k, v in reply.headers if k.lower() not in _DROPPED_REPLY]
        return UpstreamReply(reply.status, reply_headers, reply.body)

    def _admit(self) -> bool:
        """Pass the breaker (True for its half-open probe), or 503 while its circuit is open."""
        try:
            return self.breaker.admit()
        except CircuitOpen as exc:
            self.metrics.upstream_error(self.name, "circuit_open")
            raise UpstreamUnavailable(
                f"The {self.name} is failing; its circuit is open.", retry_after=exc.retry_after
            ) from None

    def _failed(self, exc: ConnectFailed | ReadTimeout | BadReply, *, probe: bool) -> ServiceError:
        """Count a failed call (breaker, metrics); the error the caller gets for it."""
        if isinstance(exc, ConnectFailed):
            # A refused connection fails fast by itself: only one that hangs trips the breaker.
            if exc.timed_out:
                self.breaker.failure(probe=probe)
            else:
                self.breaker.release(probe=probe)
            self.metrics.upstream_error(self.name, "connect")
            return self._unavailable()
        self.breaker.failure(probe=probe)
        if isinstance(exc, ReadTimeout):
            self.metrics.upstream_error(self.name, "timeout")
            return UpstreamTimeout(f"The {self.name} did not answer in time.")
        self.metrics.upstream_error(self.name, "bad_reply")
        return BadUpstreamReply(f"The {self.name} sent an invalid reply.")

    async def _send(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        timeout: float,  # noqa: ASYNC109
    ) -> H1Reply:
        replica = self.balancer.pick()
        if replica is None:
            raise ConnectFailed("no replica")
        try:
            reply = await replica.pool.request(method, target, headers, body, timeout=timeout)
        except ConnectFailed:
            self.balancer.connect_failed(replica)
            other = self.balancer.pick(exclude=replica)
            if other is None:
                raise
            self.metrics.retry(self.name)
            try:
                reply = await other.pool.request(method, target, headers, body, timeout=timeout)
            except ConnectFailed:
                self.balancer.connect_failed(other)
                raise
            replica = other
        self.balancer.reached(replica)
        return reply

    def _unavailable(self) -> UpstreamUnavailable:
        return UpstreamUnavailable(f"The {self.name} is unreachable.", retry_after=self.retry_after)

    async def readiness(self, *, wait_seconds: float) -> str:
        """`ok`, `degraded` when only some replicas are ready, or why none is."""
        replicas = list(self.balancer.replicas)
        states = await asyncio.gather(*(_ready(r.pool, wait_seconds) for r in replicas))
        ready = sum(state == CHECK_OK for state in states)
        if ready == len(states):
            return CHECK_OK
        if ready:
            return "degraded"
        serving = [state for state in states if state == "degraded"]
        return serving[0] if serving else states[0]

    async def aclose(self) -> None:
        """Close every replica's connections."""
        await self.balancer.aclose()


async def _ready(pool: H1Pool, wait_seconds: float) -> str:
    try:
        reply = await pool.request("GET", "/readyz", [], b"", timeout=wait_seconds)
    except ConnectFailed as exc:
        return "timeout" if exc.timed_out else "unreachable"
    except ReadTimeout:
        return "timeout"
    except BadReply:
        return "invalid readiness reply"
    if reply.status != 200:
        return f"not ready ({reply.status})"
    try:
        status = json.loads(reply.body).get("status")
    except (ValueError, AttributeError):
        status = None
    if status == "ready":
        return CHECK_OK
    return status if status in {"degraded", "not_ready"} else "invalid readiness reply"
