"""The gateway's two upstreams, built from settings, with their re-resolvers running."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

from gateway.config import Settings
from gateway.metrics import GatewayMetrics
from gateway.transport.h1client import H1Pool
from gateway.upstreams.balancer import Balancer, Replica, upstream_origins
from gateway.upstreams.breaker import Breaker
from gateway.upstreams.upstream import Upstream


@dataclass(frozen=True, slots=True)
class Upstreams:
    """The auth-service and the model-service."""

    auth: Upstream
    model: Upstream


def build_upstream(name: str, urls: str, settings: Settings, metrics: GatewayMetrics) -> Upstream:
    """One upstream over the replicas `urls` lists."""
    pool = partial(
        H1Pool,
        max_connections=settings.upstream_max_connections,
        connect_timeout=settings.connect_timeout_seconds,
        idle_seconds=settings.upstream_idle_seconds,
    )
    balancer = Balancer(
        upstream_origins(urls),
        pool=pool,
        eject_after=settings.upstream_eject_after,
        eject_seconds=settings.upstream_eject_seconds,
        on_eject=partial(metrics.set_ejected, name),
        on_replicas=partial(_watch_replicas, metrics, name),
    )
    breaker = Breaker(
        failures=settings.breaker_failures,
        open_seconds=settings.breaker_open_seconds,
        on_change=partial(metrics.set_breaker, name),
    )
    metrics.set_breaker(name, breaker.state)
    return Upstream(
        name=name,
        balancer=balancer,
        breaker=breaker,
        read_timeout=settings.read_timeout_seconds,
        retry_after=settings.retry_after_seconds,
        metrics=metrics,
    )


def _watch_replicas(
    metrics: GatewayMetrics, name: str, added: list[Replica], removed: list[Replica]
) -> None:
    for replica in added:
        metrics.watch_in_flight(name, replica.address, partial(_in_flight, replica.pool))
        metrics.set_ejected(name, replica.address, ejected=False)
    for replica in removed:
        metrics.forget_replica(name, replica.address)


@asynccontextmanager
async def running_upstreams(
    settings: Settings, metrics: GatewayMetrics
) -> AsyncIterator[Upstreams]:
    """Both upstreams, their names re-resolved until the block exits."""
    upstreams = Upstreams(
        auth=build_upstream("auth-service", settings.auth_service_url, settings, metrics),
        model=build_upstream("model-service", settings.model_service_url, settings, metrics),
    )
    resolvers = [
        asyncio.create_task(upstream.balancer.run(settings.upstream_resolve_seconds))
        for upstream in (upstreams.auth, upstreams.model)
    ]
    try:
        yield upstreams
    finally:
        for task in resolvers:
            task.cancel()
        await asyncio.gather(*resolvers, return_exceptions=True)
        await upstreams.auth.aclose()
        await upstreams.model.aclose()


def _in_flight(pool: H1Pool) -> float:
    return pool.in_flight
