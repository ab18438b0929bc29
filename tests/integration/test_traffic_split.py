"""A traffic split on the real stack (issue 15, item 2): the gateway, auth-service and
model-service as processes, a model of two versions pushed with the client, 2,000 predictions
through the gateway shared 90/10 within binomial bounds, and stickiness per header and per
principal; the CLI shows, sets and clears it."""

import json
import uuid
from collections.abc import Iterator
from contextlib import suppress
from math import sqrt
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from servir import Client, NotFound
from servir.cli import app
from tests.integration.conftest import RunningStack
from tests.integration.identity import bearer, new_user
from tests.integration.test_servir_client import cli_home, logged_in, tarball

pytestmark = pytest.mark.integration
__all__ = ["cli_home", "logged_in"]  # fixtures used here
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def within(count: int, n: int, p: float) -> bool:
    """Within 5 standard deviations of a binomial's mean (false alarm: ~1 in 2 million)."""
    return abs(count - n * p) <= 5 * sqrt(n * p * (1 - p))


@pytest.fixture
def two_versions(
    stack: RunningStack, demo_models: Path, tmp_path: Path
) -> Iterator[tuple[Client, str]]:
    """The admin's client and a new model of two versions (iris twice), deleted afterwards."""
    with Client(stack.gateway_url) as admin:
        admin.login("admin", stack.admin_password)
        name = push_two_versions(admin, demo_models, tmp_path)
        yield admin, name
        with suppress(NotFound):  # a split would keep its versions from being deleted
            admin.clear_traffic(name)
        for version in ("2", "1"):
            admin.delete(name, version)


def push_two_versions(admin: Client, demo_models: Path, tmp_path: Path) -> str:
    """Push iris twice, as versions 1 and 2 of a new model; its name."""
    name = f"split-{uuid.uuid4().hex[:8]}"
    for version in ("1", "2"):
        path = tmp_path / f"{name}-{version}.tar.gz"
        path.write_bytes(tarball(demo_models / "iris" / "1", name=name, version=version))
        admin.push(path)
    return name


def answered(gateway: httpx.Client, name: str, headers: dict[str, str]) -> str:
    response = gateway.post(
        f"/models/{name}/predict", json={"instances": [SETOSA]}, headers=headers
    )
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


def test_a_90_10_split_and_sticky_callers_through_the_gateway(
    gateway: httpx.Client, stack: RunningStack, two_versions: tuple[Client, str]
) -> None:
    admin, name = two_versions
    caller = bearer(new_user(gateway, stack, "splitter", ["models:read", "models:predict"])[1])
    assert admin.set_traffic(name, {"1": 90, "2": 10}).split == {"1": 90, "2": 10}
    versions = [answered(gateway, name, caller) for _ in range(2000)]
    assert within(versions.count("2"), 2000, 0.10), versions.count("2")

    admin.set_traffic(name, {"1": 50, "2": 50}, sticky_by="X-Session")
    sessions = {
        session: {answered(gateway, name, {**caller, "X-Session": session}) for _ in range(3)}
        for session in (f"s-{i}" for i in range(100))
    }
    assert all(len(seen) == 1 for seen in sessions.values()), sessions
    assert within(sum(seen == {"2"} for seen in sessions.values()), 100, 0.5)

    admin.set_traffic(name, {"1": 50, "2": 50}, sticky_by="principal")
    assert len({answered(gateway, name, caller) for _ in range(40)}) == 1


def test_the_cli_shows_sets_and_clears_a_split(
    logged_in: Path, two_versions: tuple[Client, str]
) -> None:
    _, name = two_versions
    runner = CliRunner()
    set_ = runner.invoke(
        app, ["models", "traffic", name, "1=70", "2=30", "--sticky-by", "principal"]
    )
    assert set_.exit_code == 0, set_.stderr
    assert set_.stdout.strip() == f"{name}: 1: 70%, 2: 30%; sticky by principal"
    shown = runner.invoke(app, ["models", "traffic", name, "--json"])
    expected = {"split": {"1": 70, "2": 30}, "sticky_by": "principal", "shadow": None}
    assert json.loads(shown.stdout) == expected
    bad = runner.invoke(app, ["models", "traffic", name, "1=70", "2=20"])
    assert bad.exit_code == 1  # the client refuses weights that do not sum to 100
    cleared = runner.invoke(app, ["models", "traffic", name, "--clear"])
    assert cleared.exit_code == 0, cleared.stderr
    assert runner.invoke(app, ["models", "traffic", name]).exit_code == 1  # none set: 404
