"""A server's connection deadlines and caps (enforced by uvicorn_private.GuardedProtocol)."""

import ipaddress
from dataclasses import dataclass

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Deadlines and caps of a server's connections (see uvicorn_private/connections.py)."""

    head_seconds: float = 10.0
    body_seconds: float = 30.0
    long_body_seconds: float = 600.0
    long_body_routes: frozenset[tuple[str, str]] = frozenset()
    max_per_ip: int = 256  # 0: no cap
    exempt: tuple[IpNetwork, ...] = ()
    linger_seconds: float = 30.0
    linger_idle_seconds: float = 5.0
    linger_max_bytes: int = 16 * 1024 * 1024

    @property
    def sweep_seconds(self) -> float:
        """How often deadlines are checked: a tenth of the shortest, within 0.05 and 1 s."""
        shortest = min(self.head_seconds, self.body_seconds, self.linger_idle_seconds)
        return min(max(shortest / 10, 0.05), 1.0)
