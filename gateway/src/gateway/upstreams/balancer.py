"""The replicas of one upstream: discovery, least-outstanding choice, passive ejection.

Replicas come from settings: one or more base URLs (comma-separated). A URL whose host is a
name is re-resolved every `resolve_seconds`, each address becoming a replica, so
`docker compose up --scale model-service=3` spreads load without a restart. A replica with
`eject_after` consecutive connection failures is left out for `eject_seconds`.
"""

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.transport.h1client import H1Pool

logger = logging.getLogger("servir.gateway.balancer")


@dataclass(frozen=True, slots=True)
class Origin:
    """One configured base URL."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> "Origin":
        """`http://host:port` (no path, no TLS: the internal network is plain HTTP)."""
        parts = urlsplit(url.strip())
        if parts.scheme != "http" or not parts.hostname or parts.path not in {"", "/"}:
            raise ValueError(f"upstream URL {url!r}: expected http://host:port")
        return cls(parts.hostname, parts.port or 80)

    @property
    def is_address(self) -> bool:
        """True for an IP literal (nothing to resolve)."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def upstream_origins(urls: str) -> list[Origin]:
    """The origins a setting lists, comma-separated."""
    origins = [Origin.parse(url) for url in urls.split(",") if url.strip()]
    if not origins:
        raise ValueError("an upstream needs at least one URL")
    return origins


@dataclass(eq=False)
class Replica:
    """One address serving the upstream, with its pool and passive health."""

    address: str
    pool: H1Pool
    failures: int = 0
    ejected_until: float = 0.0
    retired: bool = field(default=False)

    @property
    def in_flight(self) -> int:
        """Requests outstanding on this replica."""
        return self.pool.in_flight


def _outstanding(replica: Replica) -> int:
    return replica.in_flight


PoolFactory = Callable[[str, int], H1Pool]


class Balancer:
    """Chooses a replica per request and keeps the set current."""

    def __init__(
        self,
        origins: list[Origin],
        *,
        pool: PoolFactory,
        eject_after: int,
        eject_seconds: float,
        on_eject: Callable[[str, bool], None] | None = None,
        on_replicas: Callable[[list[Replica], list[Replica]], None] | None = None,
    ) -> None:
        self.origins = origins
        self.new_pool = pool
        self.eject_after = eject_after
        self.eject_seconds = eject_seconds
        self.on_eject = on_eject
        self.on_replicas = on_replicas
        self.replicas: list[Replica] = []
        self._turn = 0
        # Each origin's last known addresses; a name stands for itself (resolved at connect)
        # until its first resolution, and keeps its last addresses while resolution fails.
        self._known = {origin: [(origin.host, origin.port)] for origin in origins}
        self._update([pair for pairs in self._known.values() for pair in pairs])

    def pick(self, *, exclude: Replica | None = None) -> Replica | None:
        """The healthy replica with the fewest requests outstanding (ties in turn).

        When every replica is ejected, ejection is ignored (as Envoy's panic mode does): a
        lone replica that restarts must be found again at once, and trying costs little.
        """
        now = time.monotonic()
        count = len(self.replicas)
        self._turn = (self._turn + 1) % max(count, 1)
        order = [self.replicas[(self._turn + i) % count] for i in range(count)]
        candidates = [r for r in order if r is not exclude]
        healthy = [r for r in candidates if r.ejected_until <= now]
        return min(healthy or candidates, key=_outstanding, default=None)

    def connect_failed(self, replica: Replica) -> None:
        """A connection to `replica` could not be made."""
        replica.failures += 1
        if replica.failures >= self.eject_after and replica.ejected_until <= time.monotonic():
            replica.ejected_until = time.monotonic() + self.eject_seconds
            logger.warning(
                "replica ejected", extra={"replica": replica.address, "for_s": self.eject_seconds}
            )
            if self.on_eject is not None:
                self.on_eject(replica.address, True)

    def reached(self, replica: Replica) -> None:
        """A request reached `replica` (any HTTP answer)."""
        replica.failures = 0
        if replica.ejected_until:
            replica.ejected_until = 0.0
            if self.on_eject is not None:
                self.on_eject(replica.address, False)

    async def run(self, resolve_seconds: float) -> None:
        """Re-resolve named origins forever (nothing to do with addresses only)."""
        if all(origin.is_address for origin in self.origins):
            return
        while True:
            await self.resolve()
            await asyncio.sleep(resolve_seconds)

    async def resolve(self) -> None:
        """Replace the replicas of named origins with their current addresses."""
        loop = asyncio.get_running_loop()
        for origin in self.origins:
            if origin.is_address:
                continue
            try:
                infos = await loop.getaddrinfo(
                    origin.host, origin.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
            except OSError as exc:
                logger.warning("upstream name unresolved: %s (%s)", origin.host, exc)
                continue
            addresses = sorted({str(info[4][0]) for info in infos})
            self._known[origin] = [(address, origin.port) for address in addresses]
        await self._retire(self._update([p for pairs in self._known.values() for p in pairs]))

    def _update(self, wanted: list[tuple[str, int]]) -> list[Replica]:
        keep = {r.address: r for r in self.replicas}
        replicas: list[Replica] = []
        for host, port in dict.fromkeys(wanted):
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            replica = keep.pop(address, None) or Replica(address, self.new_pool(host, port))
            replicas.append(replica)
        if [r.address for r in replicas] != [r.address for r in self.replicas]:
            logger.info("upstream replicas", extra={"replicas": [r.address for r in replicas]})
            if self.on_replicas is not None:
                known = set(self.replicas)
                self.on_replicas([r for r in replicas if r not in known], list(keep.values()))
        self.replicas = replicas
        return list(keep.values())

    async def _retire(self, gone: list[Replica]) -> None:
        for replica in gone:
            replica.retired = True
            with contextlib.suppress(Exception):
                await replica.pool.aclose()

    async def aclose(self) -> None:
        """Close every replica's pool."""
        await self._retire(self.replicas)
        self.replicas = []
