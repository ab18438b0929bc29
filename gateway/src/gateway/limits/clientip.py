"""The client's IP address: the socket peer, unless that peer is a trusted proxy.

Behind trusted proxies (`GATEWAY_TRUSTED_PROXIES`) the client is the last `X-Forwarded-For`
hop that is not itself trusted: walking the header from the right, each trusted hop vouches
for the one before it. Hops a client wrote itself sit further left and are never reached.
"""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = b"x-forwarded-for"


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks, e.g. `127.0.0.1`, `198.18.0.0/15`."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


class ClientAddress:
    """Finds the client's address of a request."""

    def __init__(self, trusted: tuple[Network, ...]) -> None:
        self.trusted = trusted
        self.is_trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, peer: str | None, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The client's address, given the socket peer and the request headers."""
        if peer is None or not self.trusted or not self.is_trusted(peer):
            return peer
        hops = [
            hop.strip()
            for key, value in headers
            if key == FORWARDED_FOR
            for hop in value.decode("latin-1").split(",")
        ]
        client = peer
        for hop in reversed(hops):
            if not self.is_trusted(client):
                break
            if not _valid(hop):
                break  # a garbled hop: the last trusted proxy is the best we know
            client = hop
        return client


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
