"""One forwarded request: authenticate, rate-limit, send upstream, relay the answer."""

from collections.abc import Awaitable, Callable

from starlette.types import Scope

from gateway.auth.access import Principal
from gateway.auth.authentication import Authenticator
from gateway.errors import RateLimited
from gateway.limits.clientip import ClientAddress
from gateway.limits.ratelimit import RouteLimits
from gateway.metrics import GatewayMetrics
from gateway.upstreams.upstream import (
    Headers,
    Upstream,
    UpstreamReply,
    forward_target,
    upstream_headers,
)
from servir_runtime.problems import ServiceError

BodyReader = Callable[[], Awaitable[bytes]]


class Proxy:
    """Everything a forwarded request goes through, in order."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        limits: RouteLimits,
        client_address: ClientAddress,
        internal_token: str,
        metrics: GatewayMetrics,
    ) -> None:
        self.authenticator = authenticator
        self.limits = limits
        self.client_address = client_address
        self.internal_token = internal_token.encode()
        self.metrics = metrics

    async def forward(
        self,
        scope: Scope,
        read_body: BodyReader,
        upstream: Upstream,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the upstream's read timeout)
    ) -> UpstreamReply:
        """Authenticate, count, then send the request to `upstream`; its answer, headers
        ready for the caller (rate-limit headers and Content-Length added). `timeout`
        replaces the upstream's read timeout (uploads have their own)."""
        method, path, client_ip = scope["method"], scope["path"], self._client_ip(scope)
        target = forward_target(
            path=path, raw_path=scope.get("raw_path"), query=scope["query_string"]
        )
        # Before the body is read: a refused caller costs no upload.
        principal = await self.authenticator.admit(
            method=method, path=path, headers=scope["headers"], client_ip=client_ip
        )
        limit_headers = await self._count(method, path, principal, client_ip)
        headers = upstream_headers(
            scope["headers"],
            internal_token=self.internal_token,
            request_id=scope["state"]["request_id"],
            principal=principal,
            client_ip=client_ip,
        )
        try:
            reply = await upstream.forward(
                method=method,
                target=target,
                headers=headers,
                body=await read_body(),
                wait_seconds=timeout,
            )
        except ServiceError as exc:
            exc.headers.update((key.decode(), value.decode()) for key, value in limit_headers)
            raise
        length = (b"content-length", str(len(reply.body)).encode())
        return UpstreamReply(reply.status, [*reply.headers, *limit_headers, length], reply.body)

    def _client_ip(self, scope: Scope) -> str | None:
        peer = scope.get("client")
        return self.client_address.of(peer[0] if peer else None, scope["headers"])

    async def _count(
        self, method: str, path: str, principal: Principal | None, client_ip: str | None
    ) -> Headers:
        """Count the request against its rate limit; its headers, or 429 when over."""
        decision = await self.limits.check(
            method=method,
            path=path,
            principal=principal.name if principal is not None else None,
            client_ip=client_ip,
        )
        limit_headers = decision.headers() if decision is not None else []
        if decision is not None and not decision.allowed:
            self.metrics.rate_limited(decision.policy.name)
            raise RateLimited(limit_headers)
        return limit_headers
