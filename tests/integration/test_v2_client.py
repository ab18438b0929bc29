"""The stock Triton HTTP client, with its defaults (binary tensors), through the gateway."""

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.integration.conftest import RunningStack
from tests.integration.identity import admin_token, bearer

pytestmark = pytest.mark.integration
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5], [7.7, 2.6, 6.9, 2.3]]
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def admin(stack: RunningStack) -> dict[str, str]:
    """The bootstrap admin's bearer header."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        return bearer(admin_token(client, stack))


@pytest.fixture
def client(stack: RunningStack) -> Iterator[triton.InferenceServerClient]:
    """A Triton HTTP client of the gateway (it takes host:port, no scheme)."""
    url = stack.gateway_url.removeprefix("http://").removeprefix("https://")
    ssl = stack.gateway_url.startswith("https://")
    served = triton.InferenceServerClient(url=url, ssl=ssl, network_timeout=10.0)
    yield served
    served.close()


def iris_input(rows: list[list[float]], dtype: str) -> triton.InferInput:
    """The `input` tensor, sent as binary (the client's default)."""
    array = np.array(rows, dtype=dtype)
    tensor = triton.InferInput("input", list(array.shape), "FP32" if dtype == "float32" else "FP64")
    tensor.set_data_from_numpy(array)
    return tensor


def friendly_predictions(gateway: httpx.Client, admin: dict[str, str]) -> dict[str, object]:
    """The friendly API's answer for ROWS, with probabilities."""
    instances = [dict(zip(IRIS, row, strict=True)) for row in ROWS]
    response = gateway.post(
        "/models/iris/predict",
        json={"instances": instances, "return_probabilities": True},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_server_and_model_are_ready(
    client: triton.InferenceServerClient, admin: dict[str, str]
) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris", headers=admin)
    assert client.is_model_ready("iris", model_version="1", headers=admin)
    assert not client.is_model_ready("no-such-model", headers=admin)
    assert not client.is_model_ready("iris")  # no credential: 401


def test_model_metadata(client: triton.InferenceServerClient, admin: dict[str, str]) -> None:
    metadata = client.get_model_metadata("iris", headers=admin)
    assert metadata["name"] == "iris"
    assert "1" in metadata["versions"]
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}]
    assert [output["name"] for output in metadata["outputs"]] == ["predict", "predict_proba"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_infer_matches_the_friendly_api(
    client: triton.InferenceServerClient,
    gateway: httpx.Client,
    admin: dict[str, str],
    dtype: str,
) -> None:
    outputs = [triton.InferRequestedOutput("predict"), triton.InferRequestedOutput("predict_proba")]
    result = client.infer(
        "iris",
        [iris_input(ROWS, dtype)],
        outputs=outputs,
        request_id="triton-1",
        headers={**admin},  # a copy: the client adds its own headers to the dict it is given
    )
    expected = friendly_predictions(gateway, admin)
    labels = [label.decode() for label in result.as_numpy("predict").tolist()]
    probabilities = result.as_numpy("predict_proba")
    assert labels == expected["predictions"]
    assert probabilities.shape == (3, 3)
    assert np.allclose(probabilities, np.array(expected["probabilities"]), atol=1e-6)
    response = result.get_response()
    assert (response["id"], response["model_version"]) == ("triton-1", "1")


def test_infer_with_default_outputs_answers_labels(
    client: triton.InferenceServerClient, admin: dict[str, str]
) -> None:
    result = client.infer("iris", [iris_input(ROWS[:1], "float64")], headers={**admin})
    assert result.as_numpy("predict").tolist() == [b"setosa"]
    assert result.as_numpy("predict_proba") is None


def test_bad_tensor_raises_the_servers_error(
    client: triton.InferenceServerClient, admin: dict[str, str]
) -> None:
    with pytest.raises(InferenceServerException) as raised:
        client.infer("iris", [iris_input([[1.0, 2.0]], "float64")], headers={**admin})
    assert raised.value.status() == "400"
    assert "shape" in raised.value.message()


CUSTOMERS = {
    "tenure_months": np.array([2, 60], dtype=np.int64),
    "monthly_charges": np.array([110.0, 25.5], dtype=np.float64),
    "contract": np.array(["month-to-month", "two-year"], dtype=object),
    "has_support": np.array([False, True], dtype=bool),
}
DATATYPES = {"int64": "INT64", "float64": "FP64", "object": "BYTES", "bool": "BOOL"}


def test_one_input_per_feature_of_a_category_model(
    client: triton.InferenceServerClient, gateway: httpx.Client, admin: dict[str, str]
) -> None:
    # MLServer's pandas codec: each feature its own tensor and datatype, not one BYTES tensor.
    inputs = []
    for name, values in CUSTOMERS.items():
        tensor = triton.InferInput(name, list(values.shape), DATATYPES[str(values.dtype)])
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    result = client.infer("churn", inputs, headers={**admin})
    rows = [{name: values.tolist()[row] for name, values in CUSTOMERS.items()} for row in range(2)]
    friendly = gateway.post("/models/churn/predict", json={"instances": rows}, headers=admin)
    assert friendly.status_code == 200, friendly.text
    labels = [label.decode() for label in result.as_numpy("predict").tolist()]
    assert labels == friendly.json()["predictions"]
