"""What a sound Servir compose file must satisfy, read from `docker compose config --format json`,
and the real Compose v2 and hadolint binaries that the checks run."""

import json
import subprocess
from pathlib import Path
from typing import Any

import compose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"
PUBLIC_SERVICE = "gateway"

Config = dict[str, Any]


def compose_run(compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real Compose v2 binary (not its Python wrapper, which always exits 0)."""
    command = [str(COMPOSE_BIN), "-f", str(compose_file), "--project-directory", str(ROOT), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def compose_config(compose_file: Path) -> Config:
    """The fully resolved compose model as JSON."""
    result = compose_run(compose_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: Config = json.loads(result.stdout)
    return config


def problems(config: Config) -> list[str]:
    """Every way `config` departs from the stack's rules; empty when sound."""
    found: list[str] = []
    networks = config.get("networks", {})
    if not networks.get("backend", {}).get("internal"):
        found.append("network backend is not internal")
    for name, service in config.get("services", {}).items():
        if service.get("ports") and name != PUBLIC_SERVICE:
            found.append(f"{name} publishes ports")
        if "healthcheck" not in service or service["healthcheck"].get("disable"):
            found.append(f"{name} has no healthcheck")
        for dependency, spec in service.get("depends_on", {}).items():
            if spec.get("condition") != "service_healthy":
                found.append(f"{name} does not wait for {dependency} to be healthy")
    gateway = config.get("services", {}).get(PUBLIC_SERVICE, {})
    if any(port.get("host_ip") not in {"127.0.0.1", None} for port in gateway.get("ports", [])):
        found.append("gateway is published beyond loopback by default")
    return found


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with the project's threshold: warnings fail."""
    command = ["hadolint", "--no-color", "--failure-threshold", "warning", str(dockerfile)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
