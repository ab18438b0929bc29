"""What an API key looks like: the auth-service mints them, the gateway refuses any other
shape before it asks the auth-service about one (a malformed key then costs no call).

A key is the prefix and 32 random bytes in unpadded base64url (`secrets.token_urlsafe(32)`).
"""

import re
from typing import Final

API_KEY_PREFIX: Final = "srv_"
API_KEY_SECRET_BYTES: Final = 32
API_KEY_SECRET_LENGTH: Final = 43  # ceil(32 * 8 / 6) characters, no padding
_FORMAT = re.compile(rf"{API_KEY_PREFIX}[A-Za-z0-9_-]{{{API_KEY_SECRET_LENGTH}}}")


def well_formed_api_key(key: str) -> bool:
    """Whether `key` has the shape of a key the auth-service mints."""
    return _FORMAT.fullmatch(key) is not None
