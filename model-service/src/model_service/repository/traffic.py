"""Traffic splits: how a model's unversioned routes share requests between its versions.

A split (`PUT /models/{name}/traffic`) takes precedence over the `production` alias on the
plain routes; versioned and aliased routes are never split. Each request draws a point in
0..99 and takes the version whose weight band holds it. With `sticky_by` the point comes from a
hash of the caller (`principal`: the authenticated name the gateway forwards; otherwise the
value of the named header), so one caller stays on one version for as long as the split does
not change; a request without that key draws at random.
"""

import hashlib
import random
from dataclasses import dataclass

from starlette.types import Scope

from shared_schemas.inference import TrafficSplit

PRINCIPAL = "principal"
PRINCIPAL_HEADER = b"x-servir-principal"


@dataclass(frozen=True)
class Split:
    """A split as requests use it: versions with the upper bounds of their bands."""

    spec: TrafficSplit
    bands: tuple[tuple[int, str], ...]  # (exclusive upper bound, version), ascending
    sticky_header: bytes | None  # the header whose value keeps a caller on one version

    @classmethod
    def of(cls, spec: TrafficSplit) -> "Split":
        bands, upper = [], 0
        for version, weight in sorted(spec.split.items(), key=lambda item: int(item[0])):
            if weight:
                upper += weight
                bands.append((upper, version))
        sticky = spec.sticky_by
        header = None if sticky is None else PRINCIPAL_HEADER if sticky == PRINCIPAL else None
        if sticky is not None and sticky != PRINCIPAL:
            header = sticky.lower().encode()
        return cls(spec=spec, bands=tuple(bands), sticky_header=header)

    def choose(self, name: str, scope: Scope | None) -> str:
        """The version this request takes."""
        key = _header(scope, self.sticky_header) if self.sticky_header and scope else None
        if key is None:
            point = random.randrange(100)  # noqa: S311 (a share of traffic, not a secret)
        else:
            digest = hashlib.blake2b(name.encode() + b"\0" + key, digest_size=8).digest()
            point = int.from_bytes(digest, "big") % 100
        for upper, version in self.bands:
            if point < upper:
                return version
        return self.bands[-1][1]  # not reached: the bands end at 100


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value) or None
    return None
