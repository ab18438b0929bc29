"""docker-compose.yml and the Dockerfiles, checked without a Docker daemon."""

import re
from pathlib import Path

import pytest

from tests.compose.checks import ROOT, compose_config, compose_run, hadolint, problems

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILES = [ROOT / name / "Dockerfile" for name in ("gateway", "auth-service", "model-service")]


def broken_copy(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    text = COMPOSE_FILE.read_text()
    assert old in text, f"{old!r} is not in docker-compose.yml"
    path = tmp_path / "docker-compose.yml"
    path.write_text(text.replace(old, new, count))
    return path


def test_compose_file_is_valid() -> None:
    result = compose_run(COMPOSE_FILE, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_file_follows_the_stack_rules() -> None:
    config = compose_config(COMPOSE_FILE)
    assert problems(config) == []
    assert set(config["services"]) == {"redis", "auth-service", "model-service", "gateway"}


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = compose_config(COMPOSE_FILE)["services"]["redis"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert [volume["target"] for volume in redis["volumes"]] == ["/data"]
    assert redis["volumes"][0]["type"] == "volume"


def test_only_gateway_reaches_the_edge_network() -> None:
    services = compose_config(COMPOSE_FILE)["services"]
    on_edge = sorted(name for name, service in services.items() if "edge" in service["networks"])
    assert on_edge == ["gateway"]


def test_config_check_fails_on_unknown_dependency(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "redis: { condition: service_healthy }", "cache: {}")
    result = compose_run(path, "config", "-q")
    assert result.returncode != 0
    assert "cache" in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    internal: true\n", "    internal: false\n", "network backend is not internal"),
        (
            '    volumes: ["model-store:/app/models", "./models:/app/import:ro"]\n',
            '    volumes: ["model-store:/app/models"]\n    ports: ["8002:8002"]\n',
            "model-service publishes ports",
        ),
        (
            '    healthcheck:\n      test: ["CMD", "redis-cli", "ping"]',
            '    healthcheck:\n      disable: true\n    x-old:\n      test: ["CMD"]',
            "redis has no healthcheck",
        ),
        (
            "      auth-service: { condition: service_healthy }",
            "      auth-service: { condition: service_started }",
            "gateway does not wait for auth-service to be healthy",
        ),
        (
            "${SERVIR_BIND:-127.0.0.1}",
            "${SERVIR_BIND:-0.0.0.0}",
            "gateway is published beyond loopback by default",
        ),
    ],
)
def test_rule_check_fails_on_broken_copy(tmp_path: Path, old: str, new: str, expected: str) -> None:
    config = compose_config(broken_copy(tmp_path, old, new))
    assert expected in problems(config)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_dockerfile_is_non_root_with_exec_form_healthcheck(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert re.search(r'^\s+CMD \["python3", "-c"', text, re.MULTILINE)


def test_hadolint_fails_on_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILES[0].read_text()
    broken.write_text(
        text.replace("USER 10001:10001", "USER root").replace(
            "pip install --no-cache-dir", "pip install"
        )
    )
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3002" in result.stdout or "DL3042" in result.stdout
