"""Where `revocation_feed` finds the mirror until it joins `gateway.auth` (then this goes)."""

from gateway.auth.revocations import RevocationMirror

__all__ = ["RevocationMirror"]
