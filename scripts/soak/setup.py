"""What `make soak` needs around the load: its settings, the stack's, users and sessions,
and readings of the running processes (RSS, Redis memory, the gateway's counters)."""

import json
import os
import re
import secrets
import shutil
import time
import urllib.request
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import redis

from scripts.soak.client import Gateway, HTTPFailure
from scripts.soak.load import Session
from servir_runtime.stack import ROOT, Stack

SERVICES = ("gateway", "auth-service", "model-service")
DEMO_MODELS = ("iris", "breast-cancer", "churn")
# Clients reach the gateway through a (simulated) TLS terminator on loopback, which names
# each client in X-Forwarded-For: per-IP limits then count per client, as in production.
PROXY = "127.0.0.1"
CLIENT_NETWORK = "198.18.{}.{}"  # RFC 2544 benchmarking addresses, one per session


@dataclass(frozen=True)
class SoakSettings:
    """What one soak run does; `from_env` reads `SOAK_<FIELD>` (CI shortens the phases)."""

    rate: float = 100
    warmup_seconds: float = 5
    steady_seconds: float = 60
    overload_factor: float = 3
    # The rate the overload multiplies: the steady rate unless set, or measured with `probe`.
    sustainable_rate: float = 0
    probe: int = 0  # 1: a ramp after the steady phase measures it (see scripts/soak/probe.py)
    probe_step_seconds: float = 2
    overload_seconds: float = 30
    recovery_seconds: float = 15
    recovery_limit_seconds: float = 10
    timeout_seconds: float = 5
    p99_ms: float = 250
    memory_mb: float = 50
    max_in_flight: int = 48
    users: int = 8
    sessions_per_user: int = 5
    connections: int = 512
    pin: int = 1  # the stack on CPU 0 and the generator on CPU 1 (when there are two)

    @classmethod
    def from_env(cls) -> "SoakSettings":
        """Defaults, overridden by `SOAK_RATE`, `SOAK_STEADY_SECONDS`, ..."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            text = os.environ.get(f"SOAK_{item.name.upper()}")
            if text:
                values[item.name] = int(text) if item.type in {int, "int"} else float(text)
        return cls(**values)


def copy_models(target: Path) -> Path:
    """A private copy of the demo bundles (the soak never touches models/ itself)."""
    for name in DEMO_MODELS:
        shutil.copytree(ROOT / "models" / name, target / name)
    return target


def stack_env(settings: SoakSettings, models_dir: Path, admin_password: str) -> dict[str, str]:
    """The soak stack's settings: the defaults, spelled out where the soak depends on them."""
    return {
        "SERVIR_ENV": "test",
        "MODEL_MODELS_DIR": str(models_dir),
        "AUTH_ADMIN_USERNAME": "admin",
        "AUTH_ADMIN_PASSWORD": admin_password,
        "GATEWAY_TRUSTED_PROXIES": PROXY,
        "GATEWAY_RATE_LIMIT_ENABLED": "true",
        "GATEWAY_RATE_LIMIT_DEFAULT": "6000/60",
        "GATEWAY_RATE_LIMIT_TOKEN": "30/60",
        "GATEWAY_MAX_IN_FLIGHT": str(settings.max_in_flight),
        "GATEWAY_READ_TIMEOUT_SECONDS": "30",
    }


def cancer_row() -> dict[str, float]:
    """One breast-cancer instance: every feature at its training mean."""
    manifest = json.loads((ROOT / "models/breast-cancer/1/manifest.json").read_text())
    stats = manifest["training_stats"]
    return {f["name"]: round(stats[f["name"]]["mean"], 4) for f in manifest["features"]}


async def password_login(
    gateway: Gateway, username: str, password: str, address: str | None
) -> tuple[str, str]:
    """(access token, refresh token) of a password grant, from `address` if given."""
    form = {"grant_type": "password", "username": username, "password": password}
    status, tokens = await gateway.form("/auth/token", form, address)
    if status != 200:
        raise HTTPFailure(f"login of {username}: {status} {tokens}")
    return tokens["access_token"], tokens["refresh_token"]


async def create_sessions(
    gateway: Gateway, settings: SoakSettings, admin_password: str
) -> tuple[list[Session], str]:
    """Create the soak's users as the admin and log each session in; (sessions, password)."""
    admin, _ = await password_login(gateway, "admin", admin_password, None)
    password = secrets.token_urlsafe(16)
    for number in range(settings.users):
        user = {"username": f"soak-{number}", "password": password}
        status, body = await gateway.json("POST", "/auth/users", user, admin)
        if status != 201:
            raise HTTPFailure(f"creating {user['username']}: {status} {body}")

    sessions = []
    for index in range(settings.users * settings.sessions_per_user):
        # One at a time: each login is an argon2 verification, and the soak does not measure them.
        username = f"soak-{index % settings.users}"
        address = CLIENT_NETWORK.format(index // 250, index % 250 + 1)
        access, refresh = await password_login(gateway, username, password, address)
        sessions.append(Session(username, address, access, refresh))
    return sessions, password


def rss_mb(stack: Stack) -> dict[str, float]:
    """Resident memory (VmRSS) of each service process, in MB."""
    figures = {}
    for name in SERVICES:
        status = Path(f"/proc/{stack.process(name).popen.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        figures[name] = int(match.group(1)) / 1024 if match else float("nan")
    return figures


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user + system) each process of the stack has used, and this generator's."""
    tick = os.sysconf("SC_CLK_TCK")
    figures = {}
    for process in stack.processes:
        stat = Path(f"/proc/{process.popen.pid}/stat").read_text()
        fields_after_name = stat.rpartition(")")[2].split()
        figures[process.name] = (int(fields_after_name[11]) + int(fields_after_name[12])) / tick
    figures["generator"] = time.process_time()
    return figures


def redis_memory_mb(stack: Stack) -> float:
    """Redis's used_memory, in MB (refresh tokens are kept for their 30-day lifetime)."""
    client = redis.Redis(port=stack.redis_port, socket_timeout=5)
    try:
        used = client.info("memory")["used_memory"]
    finally:
        client.close()
    return round(int(used) / 2**20, 1)


def gateway_counters(stack: Stack) -> dict[str, float]:
    """The gateway's own count of shed (503) and rate-limited (429) requests."""
    url = f"http://127.0.0.1:{stack.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    counters: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("servir_gateway_shed_total", "servir_gateway_rate_limited_total")):
            name, _, value = line.rpartition(" ")
            counters[name.removeprefix("servir_gateway_")] = float(value)
    return counters
