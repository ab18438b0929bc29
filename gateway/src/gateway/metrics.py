"""Prometheus metrics of the gateway, served on their own port, never the public one.

A registry per app (not the process-global one), so several apps in one test process do not
collide. Route labels are templates (`/models/{name}/predict`), never raw paths: a caller must
not be able to mint new series.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.routing.lookup import OTHER, TABLE
from gateway.routing.table import FORWARDED_METHODS

# Sub-millisecond (a refused credential) to the 30 s upstream read timeout.
LATENCY_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
METHODS = frozenset(FORWARDED_METHODS)
UPSTREAM_ERROR_KINDS = frozenset({"connect", "timeout", "bad_reply", "circuit_open"})
BREAKER_STATES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
# The status counted when no response started: the client left or the request was cancelled.
NO_RESPONSE = 499

# Every label a route may have (the table's templates, and `other`).
ROUTES = tuple(dict.fromkeys(route.metric for route in TABLE.routes))


def route_template(method: str, path: str) -> str:
    """The public route a path belongs to, as its template, or `other`.

    Every method of a path shares its template (the method is a label of its own).
    """
    return TABLE.place(path).metric


class GatewayMetrics:
    """Requests, latency, upstream failures and retries, breakers, rate limits, shedding."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = self._counter(
            "requests", "Requests answered", ["route", "method", "status"]
        )
        self.duration = Histogram(
            "servir_gateway_request_duration_seconds",
            "Time from the request's arrival to the end of its answer",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = self._counter(
            "upstream_errors", "Upstream calls that failed", ["upstream", "kind"]
        )
        self.retries = self._counter("upstream_retries", "Upstream calls retried", ["upstream"])
        replica = ["upstream", "replica"]
        self.in_flight = self._gauge("upstream_in_flight", "Upstream calls under way", replica)
        self.breaker = self._gauge("breaker_state", "0 closed, 1 half-open, 2 open", ["upstream"])
        self.ejected = self._gauge("replica_ejected", "1 while a replica is ejected", replica)
        self.limited = self._counter("rate_limited", "Requests refused with 429", ["policy"])
        self.fallback = self._gauge(
            "rate_limit_fallback", "1 while limits are counted in-process (Redis unreachable)", []
        )
        self.shed_requests = self._counter("shed", "Requests refused at capacity (503)", [])
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _counter(self, name: str, help_text: str, labels: list[str]) -> Counter:
        return Counter(f"servir_gateway_{name}", help_text, labels, registry=self.registry)

    def _gauge(self, name: str, help_text: str, labels: list[str]) -> Gauge:
        return Gauge(f"servir_gateway_{name}", help_text, labels, registry=self.registry)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency (`route` from `route_template`)."""
        children = self._children.get((route, method, status))
        if children is None:
            children = self._labelled(route, method, status)
        children[0].inc()
        children[1].observe(seconds)

    def _labelled(self, route: str, method: str, status: int) -> tuple[Counter, Histogram]:
        label = method if method in METHODS else OTHER
        children = (self.requests.labels(route, label, str(status)), self.duration.labels(route))
        if label == method:  # only known methods are remembered: the cache stays bounded
            self._children[(route, method, status)] = children
        return children

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        """`observe` for a served ASGI request (status 0: none was sent, counted as 499)."""
        method = scope["method"]
        route = route_template(method, scope["path"])
        self.observe(route, method, status or NO_RESPONSE, seconds)

    def upstream_error(self, upstream: str, kind: str) -> None:
        """Count a failed upstream call: connect, timeout, bad_reply or circuit_open."""
        if kind not in UPSTREAM_ERROR_KINDS:
            raise ValueError(f"unknown upstream error kind {kind!r}")
        self.upstream_errors.labels(upstream, kind).inc()

    def retry(self, upstream: str) -> None:
        """Count a retried upstream call."""
        self.retries.labels(upstream).inc()

    def watch_in_flight(self, upstream: str, replica: str, read: Callable[[], float]) -> None:
        """Report a replica's calls under way by calling `read` at each scrape (no per-request
        cost: the replica's pool already counts them)."""
        self.in_flight.labels(upstream, replica).set_function(read)

    def forget_replica(self, upstream: str, replica: str) -> None:
        """Drop a retired replica's series, so re-resolved addresses do not pile up."""
        for gauge in (self.in_flight, self.ejected):
            gauge.remove(upstream, replica)

    def set_breaker(self, upstream: str, state: str) -> None:
        """Record an upstream's circuit breaker state: closed, half_open (or half-open), open."""
        self.breaker.labels(upstream).set(BREAKER_STATES[state])

    def set_ejected(self, upstream: str, replica: str, ejected: bool) -> None:
        """Record whether a replica is ejected from its upstream's pool."""
        self.ejected.labels(upstream, replica).set(int(ejected))

    def rate_limited(self, policy: str) -> None:
        """Count a request refused by a rate-limit policy."""
        self.limited.labels(policy).inc()

    def set_fallback(self, active: bool) -> None:
        """Record whether the in-process limiter stands in for Redis."""
        self.fallback.set(int(active))

    def shed(self) -> None:
        """Count a request refused because the gateway was at capacity."""
        self.shed_requests.inc()

    def render(self) -> bytes:
        """The text exposition format (version 0.0.4)."""
        return generate_latest(self.registry)


class RequestMetrics:
    """Pure-ASGI layer that counts and times every HTTP request by route template."""

    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then observe its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe_request(scope, status, time.perf_counter() - started)


# A scraper's request head must arrive whole and soon; nothing else is read.
MAX_HEAD_BYTES = 8192
READ_TIMEOUT_SECONDS = 10.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


@dataclass
class MetricsServer:
    """The `/metrics` listener; `port` is the bound one (useful when asked for port 0)."""

    metrics: GatewayMetrics
    port: int = 0
    connections: set[asyncio.StreamWriter] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one request, then close the connection."""
        self.connections.add(writer)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
            writer.write(self.answer(head))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass
        finally:
            self.connections.discard(writer)
            writer.close()

    def answer(self, head: bytes) -> bytes:
        """The whole HTTP/1.1 response to a request head."""
        method, _, rest = head.partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        extra = ""
        if not target.startswith(b"/"):
            status, body = 400, b"Bad Request\n"
        elif target != b"/metrics":
            status, body = 404, b"Not Found\n"
        elif method not in {b"GET", b"HEAD"}:
            status, body, extra = 405, b"Method Not Allowed\n", "Allow: GET, HEAD\r\n"
        else:
            status, body = 200, self.metrics.render()
        content_type = CONTENT_TYPE_PLAIN_0_0_4 if status == 200 else "text/plain; charset=utf-8"
        start = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
        )
        return start.encode() + (b"" if method == b"HEAD" else body)


@asynccontextmanager
async def running_metrics_server(
    metrics: GatewayMetrics, host: str, port: int
) -> AsyncIterator[MetricsServer]:
    """Serve `GET /metrics` on (host, port) until the block exits; port 0 picks a free one.

    A plain asyncio server: no signal handlers of its own, so uvicorn's SIGTERM handling of
    the public port is untouched.
    """
    listener = MetricsServer(metrics)
    server = await asyncio.start_server(listener.handle, host, port, limit=MAX_HEAD_BYTES)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        for writer in list(listener.connections):
            writer.close()
        await server.wait_closed()
