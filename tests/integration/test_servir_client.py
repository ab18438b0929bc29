"""The servir client and CLI against the real stack, through the gateway: every operation, its
typed results, and its typed errors carrying the problem details."""

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from servir import (
    AsyncClient,
    Client,
    ConnectionFailed,
    Forbidden,
    Invalid,
    NotFound,
    ServirError,
    Unauthorized,
)
from servir.cli import app
from servir.cli.profiles import load_profiles, profiles_path, save_profile
from tests.integration.conftest import RunningStack
from tests.integration.identity import USER_PASSWORD, unique

pytestmark = pytest.mark.integration
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
TRAINING_NAMES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def tarball(folder: Path, **changes: Any) -> bytes:
    """A flat .tar.gz of a demo bundle, its manifest changed by `changes`."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    files = {
        "manifest.json": json.dumps(manifest).encode(),
        "model.skops": (folder / "model.skops").read_bytes(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def renamed_iris(demo_models: Path, tmp_path: Path) -> tuple[str, Path]:
    """An iris bundle under a new model name whose features keep the training column names
    (`sepal length (cm)`), written as a .tar.gz."""
    name = f"client-{uuid.uuid4().hex[:8]}"
    source = demo_models / "iris" / "1"
    features = json.loads((source / "manifest.json").read_text())["features"]
    for feature, column in zip(features, TRAINING_NAMES, strict=True):
        feature["column"] = column
    path = tmp_path / f"{name}.tar.gz"
    path.write_bytes(tarball(source, name=name, features=features, training_stats=None))
    return name, path


@pytest.fixture
def admin(stack: RunningStack) -> Iterator[Client]:
    with Client(stack.gateway_url) as client:
        client.login("admin", stack.admin_password)
        yield client


def test_login_me_refresh_and_logout(stack: RunningStack) -> None:
    with Client(stack.gateway_url) as client:
        token = client.login("admin", stack.admin_password)
        assert "users:admin" in token.scope.split()
        assert client.me().username == "admin"
        first = client.refresh_token
        client.refresh()
        assert client.refresh_token not in (None, first)
        stored = client.refresh_token
        client.logout()
        assert client.access_token is None
    with Client(stack.gateway_url, refresh_token=stored) as revoked, pytest.raises(Unauthorized):
        revoked.me()


def test_an_expired_access_token_is_refreshed_once(stack: RunningStack) -> None:
    with Client(stack.gateway_url) as client:
        client.login("admin", stack.admin_password)
        before = client.refresh_token
        client._ops.creds.expires_at = 0.0  # as if its 15 minutes had passed
        assert client.me().username == "admin"
        assert client.refresh_token != before
    # A client resumed from a stored refresh token (as the CLI is) gets its access token first.
    with Client(stack.gateway_url, refresh_token=client.refresh_token) as resumed:
        assert resumed.me().username == "admin"


def test_a_refused_access_token_is_refreshed_once(stack: RunningStack) -> None:
    with Client(stack.gateway_url) as client:
        client.login("admin", stack.admin_password)
        refresh = client.refresh_token
    # An access token the gateway refuses (401): the client refreshes once and retries.
    with Client(stack.gateway_url, token="not-a-token", refresh_token=refresh) as resumed:
        assert resumed.me().username == "admin"
        assert resumed.access_token != "not-a-token"
    # With nothing to refresh with, the 401 is the caller's.
    with Client(stack.gateway_url, token="not-a-token") as bare, pytest.raises(Unauthorized):
        bare.me()


def test_a_wrong_password_is_unauthorized(stack: RunningStack) -> None:
    with Client(stack.gateway_url) as client, pytest.raises(Unauthorized) as raised:
        client.login("admin", "not-the-password")
    assert raised.value.title == "invalid_grant"
    assert raised.value.problem["error"] == "invalid_grant"


def test_predict_records_frames_and_arrays(admin: Client) -> None:
    records = admin.predict("iris", [SETOSA], probabilities=True)
    assert records.predictions == ["setosa"]
    assert records.classes == ["setosa", "versicolor", "virginica"]
    assert records.probabilities is not None
    assert len(records.probabilities[0]) == 3
    frame = pd.DataFrame([SETOSA, SETOSA])
    assert admin.predict("iris", frame, version="1").predictions == ["setosa", "setosa"]
    array = np.array([list(SETOSA.values())], dtype=np.float32)
    assert admin.predict("iris", array).predictions == ["setosa"]
    mixed = pd.DataFrame(
        {"tenure_months": [60], "monthly_charges": [25.0], "contract": ["two-year"]}
    ).assign(has_support=[True])
    assert admin.predict("churn", mixed).predictions[0] in {"stay", "leave"}


def test_values_the_api_refuses_are_refused_before_sending(admin: Client) -> None:
    with pytest.raises(ServirError, match=r"row 1, petal_width: nan"):
        admin.predict("iris", [SETOSA, {**SETOSA, "petal_width": float("nan")}])
    with pytest.raises(ServirError, match="columns"):
        admin.predict("iris", np.zeros((1, 3)))


def test_errors_carry_the_problem_details(stack: RunningStack, admin: Client) -> None:
    with pytest.raises(NotFound) as missing:
        admin.model("no-such-model")
    assert missing.value.status == 404
    assert missing.value.problem["instance"] == "/models/no-such-model"
    with pytest.raises(Invalid) as invalid:
        admin.predict("iris", [SETOSA, {**SETOSA, "petal_width": "wide"}])
    assert invalid.value.status == 422
    assert invalid.value.errors[0]["loc"] == ["body", "instances", 1, "petal_width"]
    user = admin.create_user(unique("reader"), USER_PASSWORD, scopes=["models:read"])
    with Client(stack.gateway_url) as reader:
        reader.login(user.username, USER_PASSWORD)
        with pytest.raises(Forbidden):
            reader.predict("iris", [SETOSA])
    admin.delete_user(user.username)


def test_a_server_nobody_answers_is_a_connection_failure() -> None:
    with Client("http://127.0.0.1:9", timeout=2) as client, pytest.raises(ConnectionFailed):
        client.models()


def test_api_keys(stack: RunningStack, admin: Client) -> None:
    created = admin.create_api_key(unique("ci"), scopes=["models:read"])
    assert created.key.startswith("srv_")
    assert created.id in {key.id for key in admin.api_keys()}
    with Client(stack.gateway_url, api_key=created.key) as ci:
        assert any(summary.name == "iris" for summary in ci.models())
    admin.revoke_api_key(created.id)
    assert created.id not in {key.id for key in admin.api_keys()}


def test_users(admin: Client) -> None:
    username = unique("managed")
    created = admin.create_user(username, USER_PASSWORD)
    assert created.scopes == ["models:read", "models:predict"]
    updated = admin.update_user(username, disabled=True, scopes=["models:read"])
    assert updated.disabled
    assert updated.scopes == ["models:read"]
    assert admin.users(limit=1000).total >= 2
    admin.delete_user(username)
    with pytest.raises(NotFound):
        admin.delete_user(username)


def test_push_predict_by_training_names_unload_load_and_delete(
    admin: Client, demo_models: Path, tmp_path: Path
) -> None:
    name, path = renamed_iris(demo_models, tmp_path)
    pushed = admin.push(path)
    assert pushed.name == name
    assert pushed.versions == ["1"]
    assert admin.push(path).versions == ["1"]  # the same bundle again: a safe retry
    assert pushed.features[0].column == "sepal length (cm)"
    frame = pd.DataFrame([list(SETOSA.values())], columns=TRAINING_NAMES)
    assert admin.predict(name, frame).predictions == ["setosa"]
    admin.unload(name)
    admin.load(name)
    assert admin.infer(name, [list(SETOSA.values())]).outputs[0].data == ["setosa"]
    described = admin.set_alias(name, "canary", "1", public=True)
    assert (described.aliases["canary"], "canary" in described.public_aliases) == ("1", True)
    assert admin.predict(name, frame, version="canary").version == "1"
    admin.remove_alias(name, "canary")
    with pytest.raises(NotFound):
        admin.predict(name, frame, version="canary")
    admin.delete(name, "1")
    with pytest.raises(NotFound):
        admin.model(name)


def test_push_refuses_what_is_no_bundle(admin: Client, tmp_path: Path) -> None:
    stray = tmp_path / "model.txt"
    stray.write_text("x")
    with pytest.raises(ServirError, match=r"neither a bundle folder nor a \.tar\.gz"):
        admin.push(stray)


@pytest.mark.anyio
async def test_the_async_client_speaks_the_same_api(stack: RunningStack) -> None:
    async with AsyncClient(stack.gateway_url) as client:
        await client.login("admin", stack.admin_password)
        assert (await client.me()).username == "admin"
        answer = await client.predict("iris", [SETOSA])
        assert answer.predictions == ["setosa"]
        with pytest.raises(NotFound):
            await client.model("no-such-model")
        await client.logout()
    async with AsyncClient("http://127.0.0.1:9", timeout=2) as dead:
        with pytest.raises(ConnectionFailed):
            await dead.models()


# The CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of the test's own; no credential or server from the environment."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("SERVIR_API_KEY", "SERVIR_TOKEN", "SERVIR_SERVER", "SERVIR_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)


@pytest.fixture
def logged_in(cli_home: Path, stack: RunningStack) -> Path:
    """The CLI logged in as the admin; the profiles file."""
    result = cli(
        "login", "--server", stack.gateway_url, "-u", "admin", "--password-stdin",
        stdin=stack.admin_password + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return profiles_path()


def stored_token() -> str | None:
    return load_profiles()["default"].refresh_token


def test_cli_login_keeps_a_private_rotating_token_and_logout_revokes_it(
    logged_in: Path, stack: RunningStack
) -> None:
    assert stat.S_IMODE(logged_in.stat().st_mode) == 0o600
    assert stat.S_IMODE(logged_in.parent.stat().st_mode) == 0o700
    assert stack.admin_password not in logged_in.read_text()
    first = stored_token()
    listed = cli("models", "ls", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert "iris" in {model["name"] for model in json.loads(listed.stdout)}
    assert stored_token() == first  # the stored access token served: no refresh, no rotation
    profile = load_profiles()["default"]
    profile.expires_at = 0.0  # as if its 15 minutes had passed
    save_profile("default", profile)
    assert cli("whoami").exit_code == 0
    assert stored_token() not in (None, first)  # refreshed, rotated, and stored back
    spent = stored_token()
    assert cli("logout").exit_code == 0
    assert stored_token() is None
    with Client(stack.gateway_url, refresh_token=spent) as old, pytest.raises(Unauthorized):
        old.me()
    after = cli("whoami")
    assert after.exit_code == 3
    assert "servir login" in after.stderr


def test_cli_login_with_a_wrong_password_exits_3(cli_home: Path, stack: RunningStack) -> None:
    result = cli(
        "login", "--server", stack.gateway_url, "-u", "admin", "--password-stdin", stdin="nope\n"
    )
    assert result.exit_code == 3
    assert "invalid_grant" in result.stderr
    assert not profiles_path().exists()


def test_cli_api_errors_exit_1_with_the_problem(logged_in: Path) -> None:
    result = cli("models", "show", "no-such-model")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Not Found (404)")
    as_json = cli("--json", "models", "show", "no-such-model")
    assert json.loads(as_json.stderr)["instance"] == "/models/no-such-model"


def test_cli_predicts_a_csv_in_chunks(logged_in: Path, tmp_path: Path, admin: Client) -> None:
    rows = admin.model("iris").max_rows * 2 + 1
    source = tmp_path / "rows.csv"
    lines = [",".join(SETOSA)] + [",".join(str(v) for v in SETOSA.values())] * rows
    source.write_text("\n".join(lines) + "\n")
    target = tmp_path / "out.csv"
    result = cli(
        "predict", "iris", "--input", str(source), "--output", str(target), "--format", "csv",
        "--probabilities",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    written = target.read_text().splitlines()
    assert (
        written[0] == "prediction,probability_setosa,probability_versicolor,probability_virginica"
    )
    assert len(written) == rows + 1
    assert {line.split(",")[0] for line in written[1:]} == {"setosa"}


def test_cli_predicts_parquet(logged_in: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.parquet"
    pd.DataFrame([SETOSA] * 3).to_parquet(source)
    result = cli("predict", "iris", "--input", str(source), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["prediction", "setosa", "setosa", "setosa"]


def test_cli_predicts_json_from_stdin(logged_in: Path) -> None:
    result = cli("predict", "iris", "--input", "-", stdin=json.dumps({"instances": [SETOSA]}))
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["predictions"] == ["setosa"]
    assert answer["model"] == "iris"


def test_cli_push_show_predict_by_training_names_and_rm(
    logged_in: Path, demo_models: Path, tmp_path: Path
) -> None:
    name, bundle = renamed_iris(demo_models, tmp_path)
    pushed = cli("push", str(bundle), "--json")
    assert pushed.exit_code == 0, pushed.stderr
    assert json.loads(pushed.stdout)["name"] == name
    shown = cli("models", "show", name)
    assert "sepal length (cm)" in shown.stdout
    assert any(line.startswith("runtime ") for line in shown.stdout.splitlines())
    source = tmp_path / "trained.csv"
    source.write_text(",".join(TRAINING_NAMES) + "\n" + ",".join(map(str, SETOSA.values())) + "\n")
    predicted = cli("predict", name, "--input", str(source))
    assert json.loads(predicted.stdout)["predictions"] == ["setosa"], predicted.stderr
    assert cli("models", "unload", name).exit_code == 0
    assert cli("models", "load", name, "--json").stdout.strip().startswith("{")
    removed = cli("models", "rm", name, "--version", "1", "--yes")
    assert removed.exit_code == 0, removed.stderr
    assert cli("models", "show", name).exit_code == 1


def test_cli_keys_and_api_key_from_the_environment(logged_in: Path, stack: RunningStack) -> None:
    created = cli("keys", "create", unique("ci"), "--scope", "models:read", "--json")
    assert created.exit_code == 0, created.stderr
    key = json.loads(created.stdout)
    env = {"SERVIR_API_KEY": key["key"], "SERVIR_SERVER": stack.gateway_url}
    assert cli("models", "ls", env=env).exit_code == 0
    # The key holds models:read only: predicting with it is refused (403, exit code 1).
    refused = cli("predict", "iris", "--input", "-", env=env, stdin=json.dumps([SETOSA]))
    assert refused.exit_code == 1
    assert "Forbidden (403)" in refused.stderr
    assert key["id"] in {each["id"] for each in json.loads(cli("keys", "ls", "--json").stdout)}
    assert cli("keys", "revoke", key["id"]).exit_code == 0
    assert key["id"] not in cli("keys", "ls", "--json").stdout


def test_cli_users(logged_in: Path) -> None:
    username = unique("cli")
    created = cli("users", "create", username, "--password-stdin", stdin=USER_PASSWORD + "\n")
    assert created.exit_code == 0, created.stderr
    updated = cli("users", "update", username, "--disable", "--json")
    assert json.loads(updated.stdout)["disabled"] is True
    listed = json.loads(cli("users", "ls", "--limit", "1000", "--json").stdout)
    assert username in {user["username"] for user in listed["items"]}
    assert cli("users", "rm", username).exit_code == 0
    assert cli("users", "rm", username).exit_code == 1


def test_commands_refreshing_at_once_keep_the_login(logged_in: Path, cli_home: Path) -> None:
    # Each refresh rotates the refresh token and a reuse revokes the login: commands started
    # together with an expired access token take turns, and all but one reuse the first's.
    profile = load_profiles()["default"]
    profile.expires_at = 0.0
    save_profile("default", profile)
    env = {**os.environ, "HOME": str(cli_home), "XDG_CONFIG_HOME": str(cli_home / "config")}
    script = str(Path(sys.executable).parent / "servir")
    started = [
        subprocess.Popen([script, "whoami"], env=env, stdout=PIPE, stderr=PIPE, text=True)
        for _ in range(4)
    ]
    answers = [(process.communicate(timeout=60)[1], process.returncode) for process in started]
    assert [code for _, code in answers] == [0] * len(started), answers
    assert cli("whoami").exit_code == 0


def test_the_console_script_logs_in_with_the_password_on_stdin(
    cli_home: Path, stack: RunningStack
) -> None:
    env = {**os.environ, "HOME": str(cli_home), "XDG_CONFIG_HOME": str(cli_home / "config")}
    command = [str(Path(sys.executable).parent / "servir"), "login", "--server", stack.gateway_url]
    done = subprocess.run(
        [*command, "-u", "admin", "--password-stdin", "--json"],
        input=stack.admin_password + "\n", capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "admin"
    assert stack.admin_password not in " ".join(command)
    assert (cli_home / "config" / "servir" / "profiles.json").exists()
