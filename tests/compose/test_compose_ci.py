"""compose.ci.yml, the override `make e2e` runs the stack with (no image registry, no package
index), and the Dockerfiles' two ways to install: the index for users, a wheelhouse for CI."""

import ipaddress
import json
import re

import pytest

from tests.compose.checks import ROOT, Config, compose_config, compose_run, problems

USERS_FILE = ROOT / "docker-compose.yml"
CI_FILE = ROOT / "compose.ci.yml"
BUILT = ("gateway", "auth-service", "model-service")
CI_BASE = "localhost/servir-base:bookworm"


@pytest.fixture
def ci_config(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SERVIR_E2E_SIGNING_KEY", "a PEM key")
    result = compose_run(USERS_FILE, "-f", str(CI_FILE), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: Config = json.loads(result.stdout)
    return config


def test_ci_stack_follows_the_stack_rules(ci_config: Config) -> None:
    assert problems(ci_config) == []
    assert set(ci_config["services"]) == {"redis", "auth-service", "model-service", "gateway"}


@pytest.mark.parametrize("service", BUILT)
def test_ci_builds_from_the_local_base_image_and_wheelhouse_only(
    ci_config: Config, service: str
) -> None:
    args = ci_config["services"][service]["build"]["args"]
    assert args == {
        "SERVICE": service,
        "BASE_IMAGE": CI_BASE,
        "WHEELHOUSE": f".build/e2e/wheels/{service}",
        "PIP_NO_INDEX": "1",
    }


def test_ci_redis_keeps_the_users_append_only_settings(ci_config: Config) -> None:
    users = compose_config(USERS_FILE)["services"]["redis"]
    redis = ci_config["services"]["redis"]
    assert redis["image"] == CI_BASE
    assert redis["pull_policy"] == "never"
    for flag in ("--appendonly", "--appendfsync", "--save"):
        users_value = users["command"][users["command"].index(flag) + 1]
        assert redis["command"][redis["command"].index(flag) + 1] == users_value
    assert redis["volumes"] == users["volumes"]


def test_ci_health_checks_run_the_users_commands(ci_config: Config) -> None:
    users = compose_config(USERS_FILE)["services"]
    for name, service in ci_config["services"].items():
        assert service["healthcheck"]["test"] == users[name]["healthcheck"]["test"], name


def test_ci_needs_the_signing_key_the_e2e_script_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVIR_E2E_SIGNING_KEY", raising=False)
    result = compose_run(USERS_FILE, "-f", str(CI_FILE), "config", "-q")
    assert result.returncode != 0
    assert "SERVIR_E2E_SIGNING_KEY" in result.stderr


@pytest.mark.parametrize("service", BUILT)
def test_users_build_installs_from_the_package_index(service: str) -> None:
    build = compose_config(USERS_FILE)["services"][service]["build"]
    assert set(build["args"]) == {"SERVICE", "BASE_IMAGE"}
    assert build["args"]["SERVICE"] == service
    dockerfile = (ROOT / "Dockerfile").read_text()
    # The default wheelhouse holds no wheel, and pip may use the index.
    assert re.search(r"^ARG WHEELHOUSE=requirements$", dockerfile, re.MULTILINE)
    assert re.search(r"^ARG PIP_NO_INDEX=0$", dockerfile, re.MULTILINE)
    assert not list((ROOT / "requirements").glob("*.whl"))


def test_build_context_holds_the_wheelhouse_but_not_the_engine() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".build" in ignored
    assert "!.build/e2e/wheels" in ignored
    assert {".git", ".venv", ".env"} <= set(ignored)


def test_e2e_engine_hands_out_only_benchmark_addresses() -> None:
    # Every address of the e2e engine (its bridge and its networks) is in 198.18.0.0/15, never
    # in a private range, and the engine writes no iptables rule.
    script = (ROOT / "scripts" / "e2e.sh").read_text()
    ranges = re.findall(r"--bip (\S+)", script) + re.findall(
        r"--default-address-pool base=([^,\s]+)", script
    )
    assert len(ranges) == 2
    benchmark = ipaddress.IPv4Network("198.18.0.0/15")
    for network in ranges:
        assert ipaddress.IPv4Network(network, strict=False).subnet_of(benchmark)
    assert "--iptables=false --ip6tables=false" in script
