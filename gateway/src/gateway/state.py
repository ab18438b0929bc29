"""What the gateway's lifespan builds, in one typed place; read it through `gateway.deps`."""

from dataclasses import dataclass

from gateway.config import Settings
from gateway.docs.current import MergedOpenAPI
from gateway.metrics import GatewayMetrics
from gateway.upstreams.proxy import Proxy
from gateway.upstreams.upstream import Upstream


@dataclass(frozen=True, slots=True)
class GatewayState:
    """The gateway's running parts. `proxy` holds the rest: the authenticator (JWKS,
    revocations, API keys), the rate limits and the client address rule."""

    settings: Settings
    metrics: GatewayMetrics
    auth_upstream: Upstream
    model_upstream: Upstream
    openapi: MergedOpenAPI
    proxy: Proxy
