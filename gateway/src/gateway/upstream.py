"""Forwarding a request to an upstream service over a pooled HTTP client."""

from dataclasses import dataclass

import httpx

from gateway.access import Principal
from gateway.errors import BadPath, BadUpstreamReply, UpstreamTimeout, UpstreamUnavailable
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
# The gateway sets its own Date and X-Request-ID; httpx has already decoded the body.
_DROPPED_REPLY = HOP_BY_HOP | {REQUEST_ID, b"content-encoding", b"date", b"server"}


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
    dropped = HOP_BY_HOP | _connection_tokens(incoming)
    if principal is not None:
        dropped |= CREDENTIALS
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
    if any(segment in {".", ".."} for segment in path.split("/")):
        raise BadPath(f"No resource at {path}.")
    try:
        target = (raw_path or path.encode()).decode("ascii")
    except UnicodeDecodeError:
        raise BadPath("The path must be ASCII (percent-encode other bytes).") from None
    return f"{target}?{query.decode('latin-1')}" if query else target


class Upstream:
    """One upstream service: a base URL and a pooled client."""

    def __init__(self, *, name: str, base_url: str, client: httpx.AsyncClient, retry_after: int):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.retry_after = retry_after

    async def forward(
        self,
        *,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        wait_seconds: float | None = None,
    ) -> UpstreamReply:
        """Send one request; map transport failures to 503/504/502.

        `wait_seconds` replaces the client's timeouts (the gateway's own, shorter, calls).
        """
        try:
            request = self.client.build_request(
                method,
                self.base_url + target,
                headers=headers,
                content=body,
                timeout=httpx.USE_CLIENT_DEFAULT if wait_seconds is None else wait_seconds,
            )
            response = await self.client.send(request)
        except httpx.InvalidURL:
            raise BadPath("The path is not a valid URL path.") from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            raise self._unavailable() from None
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"The {self.name} did not answer in time.") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.DecodingError):
            raise BadUpstreamReply(f"The {self.name} sent an invalid reply.") from None
        reply_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _DROPPED_REPLY]
        return UpstreamReply(response.status_code, reply_headers, response.content)

    def _unavailable(self) -> UpstreamUnavailable:
        return UpstreamUnavailable(f"The {self.name} is unreachable.", retry_after=self.retry_after)

    async def readiness(self, *, wait_seconds: float) -> str:
        """`ok`, or a short reason this upstream is not ready."""
        try:
            response = await self.client.get(f"{self.base_url}/readyz", timeout=wait_seconds)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "unreachable"
        if response.status_code != 200:
            return f"not ready ({response.status_code})"
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if status == "ready":
            return CHECK_OK
        return status if status in {"degraded", "not_ready"} else "invalid readiness reply"
