"""The soak's HTTP client: the gateway over a lean pooled HTTP/1.1 connection pool."""

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from gateway.transport.h1client import H1Pool


class HTTPFailure(Exception):
    """An answer the soak's own setup could not use (status and body in the message)."""


@dataclass
class Gateway:
    """The gateway over a lean pooled HTTP/1.1 client.

    Not httpx: on these machines it costs 2-5 ms of client CPU per request (its pool grows
    costlier with concurrency), which would make the generator the bottleneck; the gateway's
    own H1Pool costs ~0.1 ms and aiohttp is not a direct dependency.
    """

    pool: H1Pool
    timeout_s: float

    async def call(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        """Send one request; (status, body)."""
        reply = await self.pool.request(method, path, headers, body, timeout=self.timeout_s)
        return reply.status, reply.body

    async def form(
        self, path: str, fields: dict[str, str], address: str | None
    ) -> tuple[int, dict[str, Any]]:
        """POST a form (the token endpoint); (status, decoded JSON body)."""
        headers = [(b"content-type", b"application/x-www-form-urlencoded")]
        if address:
            headers.append((b"x-forwarded-for", address.encode()))
        status, body = await self.call(
            "POST", path, headers, urllib.parse.urlencode(fields).encode()
        )
        return status, _decode(body)

    async def json(
        self, method: str, path: str, payload: object, bearer: str
    ) -> tuple[int, dict[str, Any]]:
        """Send JSON with a bearer token; (status, decoded JSON body)."""
        headers = [
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + bearer.encode()),
        ]
        status, body = await self.call(method, path, headers, json.dumps(payload).encode())
        return status, _decode(body)


def _decode(body: bytes) -> dict[str, Any]:
    """A JSON object body, or {} for anything else."""
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
