"""The stack as `make bench` runs it: its settings, the admin's token, and what a cell targets."""

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from auth_service.config import DEV_ADMIN_PASSWORD


@dataclass
class Target:
    """Where a cell's requests go, with which headers, and whose CPU time it counts."""

    url: str
    headers: dict[str, str]
    pids: list[int]


def stack_env(store: Path, runtime: str) -> dict[str, str]:
    """Development settings, access logs off, rate limits on with a quota no run exhausts."""
    quiet = {f"{p}_ACCESS_LOG_SAMPLE": "0" for p in ("GATEWAY", "AUTH", "MODEL")}
    return {
        "SERVIR_ENV": "test",
        "MODEL_MODELS_DIR": str(store),
        "MODEL_RUNTIME": runtime,
        # Rate limits stay on (one Redis script per request), with a quota no run can exhaust.
        "GATEWAY_RATE_LIMIT_DEFAULT": "1000000000/60",
        **quiet,
    }


def admin_token(gateway_url: str) -> str:
    """An access token of the bootstrap admin (development default password)."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": "admin", "password": DEV_ADMIN_PASSWORD}
    ).encode()
    request = urllib.request.Request(f"{gateway_url}/auth/token", data=form)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        token: str = json.load(response)["access_token"]
        return token
