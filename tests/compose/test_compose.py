"""docker-compose.yml and the Dockerfiles, checked without a Docker daemon."""

import re
from pathlib import Path

import pytest

from tests.compose.checks import ROOT, compose_config, compose_run, hadolint, problems

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"gateway": 8000, "auth-service": 8001, "model-service": 8002}


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


def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout


def test_dockerfile_is_non_root_with_exec_form_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    for service, port in SERVICES.items():
        stage = service_stage(text, service)
        assert re.search(r"^USER 10001:10001$", stage, re.MULTILINE), service
        assert re.search(r'^\s+CMD \["python3", "-c"', stage, re.MULTILINE), service
        assert f"http://127.0.0.1:{port}/" in stage, service
        assert f"EXPOSE {port}\n" in stage, service
    # The image is the stage the build argument names.
    assert text.rstrip().splitlines()[-1] == "FROM ${SERVICE}"


def test_each_image_runs_its_own_service_from_its_own_sources() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY requirements/${SERVICE}.txt /tmp/requirements.txt" in text
    assert "COPY ${SERVICE}/src ${SERVICE}/src" in text
    assert "PYTHONPATH=/app/shared-schemas/src:/app/service-runtime/src:/app/${SERVICE}/src" in text
    for service in SERVICES:
        module = service.replace("-", "_")
        assert f'CMD ["python3", "-m", "{module}"]' in service_stage(text, service)
    assert "model_service.demo_models /app/models" in service_stage(text, "model-service")
    assert "chmod 700 /app/.data/keys" in service_stage(text, "auth-service")


@pytest.mark.parametrize("service", list(SERVICES))
def test_compose_builds_each_service_from_the_one_dockerfile(service: str) -> None:
    build = compose_config(COMPOSE_FILE)["services"][service]["build"]
    assert Path(build["dockerfile"]) == Path("Dockerfile")
    assert build["args"]["SERVICE"] == service


def test_hadolint_fails_on_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text()
    broken.write_text(
        text.replace("USER 10001:10001", "USER root").replace(
            "pip install --no-cache-dir", "pip install"
        )
    )
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3002" in result.stdout or "DL3042" in result.stdout


def service_stage(text: str, service: str) -> str:
    """The lines of the Dockerfile's stage for `service`, up to the next FROM."""
    start = text.index(f"FROM base AS {service}\n")
    end = text.find("\nFROM ", start + 1)
    return text[start:end]
