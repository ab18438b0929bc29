"""The CLI without a server: help everywhere, where credentials are kept and how, the http
rule, exit codes and machine-readable errors."""

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
import typer
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner, Result

from servir.cli import app
from servir.cli.profiles import Profile, load_profiles, profiles_path, save_profile
from servir.cli.session import check_transport
from servir.errors import ServirError

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home and config folder of the test's own; no credential from the environment."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("SERVIR_API_KEY", "SERVIR_TOKEN", "SERVIR_SERVER", "SERVIR_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from commands(command, (*path, name))


def test_every_command_has_help(home: Path) -> None:
    every = list(commands(typer.main.get_command(app)))
    assert ("models", "promote") in every
    assert ("users", "update") in every
    for path in every:
        result = run(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: servir" in result.output


def test_no_password_is_taken_from_argv(home: Path) -> None:
    login: Any = getattr(typer.main.get_command(app), "commands", {})["login"]
    takes_values = {o for p in login.params if not getattr(p, "is_flag", False) for o in p.opts}
    assert not any("pass" in option for option in takes_values)
    assert run("login", "-u", "admin", "--password", "secret").exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("--server", "http://models.example.com", "login", "-u", "admin", "--password-stdin"),
        ("login", "--server", "http://10.0.0.7:8000", "-u", "admin", "--password-stdin"),
    ],
)
def test_plain_http_elsewhere_is_refused(home: Path, args: tuple[str, ...]) -> None:
    result = run(*args, stdin="password\n")
    assert result.exit_code == 2
    assert "refusing plain http" in result.stderr
    assert "--insecure" in result.stderr
    assert not profiles_path().exists()


def test_the_http_rule() -> None:
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        check_transport(url, insecure=False)
    check_transport("https://models.example.com", insecure=False)
    check_transport("http://models.example.com", insecure=True)
    with pytest.raises(ServirError, match="refusing plain http"):
        check_transport("http://localhost.evil.example", insecure=False)
    with pytest.raises(ServirError, match="not an http"):
        check_transport("ftp://models.example.com", insecure=True)


def test_insecure_lets_plain_http_through(home: Path) -> None:
    # `localhost.` is not recognised as this machine: only --insecure lets it through, and
    # then the connection itself fails (nothing listens on the discard port).
    refused = run(
        "--server", "http://localhost.:9", "login", "-u", "a", "--password-stdin", stdin="p\n"
    )
    assert refused.exit_code == 2
    through = run(
        "--server", "http://localhost.:9", "--insecure", "login", "-u", "a", "--password-stdin",
        stdin="p\n",
    )  # fmt: skip
    assert through.exit_code == 4, through.stderr
    assert "cannot reach" in through.stderr


def test_without_a_login_the_exit_code_is_3(home: Path) -> None:
    result = run("models", "ls")
    assert result.exit_code == 3
    assert "servir login" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_errors_are_json_with_json(home: Path) -> None:
    result = run("--json", "models", "ls")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert json.loads(result.stderr)["title"] == "NotLoggedIn"
    per_command = run("models", "ls", "--json")
    assert json.loads(per_command.stderr)["title"] == "NotLoggedIn"


def test_an_unreachable_server_exits_4(home: Path) -> None:
    env = {"SERVIR_API_KEY": "srv_x", "SERVIR_SERVER": CLOSED}
    result = run("models", "ls", env=env)
    assert result.exit_code == 4
    assert "cannot reach http://127.0.0.1:9" in result.stderr


def test_a_bad_command_line_exits_2(home: Path) -> None:
    assert run("models", "show").exit_code == 2
    assert run("predict", "iris").exit_code == 2
    assert run("nonsense").exit_code == 2


def test_profiles_are_private_and_written_whole(home: Path) -> None:
    save_profile("default", Profile("http://127.0.0.1:8000", "admin", "refresh-1"))
    save_profile("prod", Profile("https://models.example.com", "ci", "refresh-2"))
    path = profiles_path()
    assert path.parent == home / "config" / "servir"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["profiles.json"]
    assert load_profiles()["default"].refresh_token == "refresh-1"
    save_profile("default", None)
    assert list(load_profiles()) == ["prod"]


def test_a_loose_config_folder_is_tightened(home: Path) -> None:
    folder = home / "config" / "servir"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    save_profile("default", Profile("http://127.0.0.1:8000", "admin", "refresh-1"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_skops_file_needing_trust_is_refused_until_trusted(home: Path) -> None:
    model = home / "model.skops"
    sio.dump(FunctionTransformer(func=np.sinc), model)
    sample = home / "sample.csv"
    sample.write_text("x\n1.0\n")
    result = run("bundle", str(model), "--sample", str(sample), "--name", "m")
    assert result.exit_code == 2
    assert "numpy.sinc" in result.stderr
    assert "--trust" in result.stderr


def test_a_module_object_that_does_not_exist_is_a_usage_error(home: Path) -> None:
    sample = home / "sample.csv"
    sample.write_text("x\n1.0\n")
    result = run("bundle", "no_such_module:model", "--sample", str(sample), "--name", "m")
    assert result.exit_code == 2
    assert "cannot import no_such_module" in result.stderr


def test_a_login_is_never_sent_to_another_server(home: Path) -> None:
    save_profile("default", Profile("http://127.0.0.1:8000", "admin", "refresh-1", "access-1"))
    # Nothing listens at CLOSED: exit 3 (no credential for it), not 4, shows nothing was sent.
    result = run("--server", CLOSED, "models", "ls")
    assert result.exit_code == 3
    assert f"not logged in to {CLOSED}" in result.stderr
