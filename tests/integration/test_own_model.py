"""A user's own model, end to end: a Pipeline fitted on a DataFrame with a category column and
names that are not JSON field names, saved with the SDK, pushed with the CLI to the real stack,
and predicted through the gateway by every client users bring: the typed client, plain JSON,
MLflow's `dataframe_split` at `invocations`, V2 per-feature inputs, and tritonclient. A bundle
whose manifest lists the features in another order than the model was fitted with is refused."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import servir
from servir.packing import pack
from tests.integration.conftest import RunningStack

pytestmark = pytest.mark.integration

NAME = "mascotas-e2e"


def pets(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "especie": rng.choice(["Gato", "Perro"], rows),
            "peso (kg)": rng.normal(12, 5, rows).clip(1, 40).round(1),
            "año": rng.integers(1, 16, rows),
        }
    )


def fitted(frame: pd.DataFrame) -> Any:
    weight = frame["peso (kg)"].to_numpy() / np.where(frame["especie"] == "Perro", 25, 5)
    labels = np.where(frame["año"].to_numpy() / 15 + weight > 1.2, "revisar", "sano")
    columns = ColumnTransformer(
        [("especie", OneHotEncoder(), ["especie"]), ("n", StandardScaler(), ["peso (kg)", "año"])]
    )
    return make_pipeline(columns, LogisticRegression()).fit(frame, labels)


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The `servir` CLI of this environment, as a user runs it."""
    command = [str(Path(sys.executable).parent / "servir"), *args]
    return subprocess.run(
        command, input=stdin, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def pushed(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pipeline, saved with the SDK and pushed with the CLI."""
    home = tmp_path_factory.mktemp("home")
    frame = pets(300, seed=3)
    pipeline = fitted(frame)
    folder = servir.save_model(pipeline, home / "bundle", sample=frame, name=NAME)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    for name in ("SERVIR_API_KEY", "SERVIR_TOKEN", "SERVIR_SERVER"):
        env.pop(name, None)
    login = ("login", "--server", stack.gateway_url, "--username", "admin", "--password-stdin")
    logged = cli(*login, env=env, stdin=stack.admin_password + "\n")
    assert logged.returncode == 0, logged.stderr
    pushed = cli("push", str(folder), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["name"] == NAME
    return pipeline


@pytest.fixture(scope="module")
def client(stack: RunningStack) -> Any:
    with servir.Client(stack.gateway_url) as logged_in:
        logged_in.login("admin", stack.admin_password)
        yield logged_in


def test_the_client_predicts_a_dataframe_as_the_pipeline_does(pushed: Any, client: Any) -> None:
    rows = pets(20, seed=11)
    answer = client.predict(NAME, rows)
    assert answer.predictions == pushed.predict(rows).tolist()
    assert answer.version == "1"


def test_plain_json_uses_the_wire_names(pushed: Any, client: Any, gateway: httpx.Client) -> None:
    metadata = client.model(NAME)
    wire = {f.column or f.name: f.name for f in metadata.features}
    assert wire == {"especie": "especie", "peso (kg)": "peso_kg", "año": "ano"}
    rows = pets(5, seed=12)
    body = {"instances": rows.rename(columns=wire).to_dict("records")}
    answer = gateway.post(
        f"/models/{NAME}/predict", json=body, headers=client.credentials.headers()
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pushed.predict(rows).tolist()


def test_mlflow_dataframe_split_at_invocations(
    pushed: Any, client: Any, gateway: httpx.Client
) -> None:
    rows = pets(7, seed=13)
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    path = f"/models/{NAME}/invocations"
    answer = gateway.post(path, json=body, headers=client.credentials.headers())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": pushed.predict(rows).tolist()}


def v2_inputs(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"name": "especie", "shape": [len(rows)], "datatype": "BYTES", "data": [*rows["especie"]]},
        {"name": "peso_kg", "shape": [len(rows)], "datatype": "FP64", "data": [*rows["peso (kg)"]]},
        {
            "name": "ano",
            "shape": [len(rows)],
            "datatype": "INT64",
            "data": [*map(int, rows["año"])],
        },
    ]


def test_v2_takes_one_input_per_feature(pushed: Any, client: Any, gateway: httpx.Client) -> None:
    rows = pets(6, seed=14)
    path = f"/v2/models/{NAME}/infer"
    answer = gateway.post(
        path, json={"inputs": v2_inputs(rows)}, headers=client.credentials.headers()
    )
    assert answer.status_code == 200, answer.text
    (output,) = [o for o in answer.json()["outputs"] if o["name"] == "predict"]
    assert output["data"] == pushed.predict(rows).tolist()


def test_tritonclient_sends_one_input_per_feature(
    stack: RunningStack, pushed: Any, client: Any
) -> None:
    rows = pets(4, seed=15)
    url = stack.gateway_url.removeprefix("http://")
    inference = triton.InferenceServerClient(url=url)
    tensors = []
    for name, values, datatype in (
        ("especie", rows["especie"].to_numpy(dtype=object), "BYTES"),
        ("peso_kg", rows["peso (kg)"].to_numpy(dtype=np.float64), "FP64"),
        ("ano", rows["año"].to_numpy(dtype=np.int64), "INT64"),
    ):
        tensor = triton.InferInput(name, [len(rows)], datatype)
        tensor.set_data_from_numpy(values, binary_data=False)
        tensors.append(tensor)
    result = inference.infer(NAME, tensors, headers=client.credentials.headers())
    predicted = [p.decode() if isinstance(p, bytes) else p for p in result.as_numpy("predict")]
    assert predicted == pushed.predict(rows).tolist()


def test_a_bundle_with_a_swapped_feature_order_is_refused(
    stack: RunningStack, client: Any, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(200, 4)) * [1, 2, 3, 4]
    labels = np.where(rows[:, 0] - rows[:, 3] > 0, "a", "b")
    model = LogisticRegression().fit(rows, labels)
    folder = servir.save_model(model, tmp_path / "swapped", sample=rows, name="swapped-e2e")
    manifest = json.loads((folder / "manifest.json").read_text())
    features = manifest["features"]
    features[0], features[3] = features[3], features[0]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(servir.ApiError) as refused:
        client.push(folder)
    assert refused.value.status == 422
    assert "example" in refused.value.detail
    assert "swapped-e2e" not in {m.name for m in client.models()}


def test_pack_is_a_flat_archive(tmp_path: Path) -> None:
    """What the CLI pushes is the flat tarball the upload documents."""
    frame = pets(50, seed=4)
    folder = servir.save_model(fitted(frame), tmp_path / "b", sample=frame, name="flat")
    with tarfile.open(fileobj=io.BytesIO(pack(folder)), mode="r:gz") as archive:
        assert sorted(archive.getnames()) == ["manifest.json", "model.skops"]
