"""Bodies built and read by tritonclient's own codec, against the model-service in process."""

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.conftest import INTERNAL
from tests.model_service.test_v2 import CUSTOMER, SETOSA, VIRGINICA, v2

pytestmark = pytest.mark.anyio
__all__ = ["v2"]  # the fixture, shared with test_v2


async def post(
    client: httpx.AsyncClient,
    model: str,
    inputs: list[triton.InferInput],
    outputs: list[triton.InferRequestedOutput] | None = None,
) -> triton.InferResult:
    """Infer as tritonclient would, and parse the answer with its parser."""
    body, header_length = triton.InferenceServerClient.generate_request_body(inputs, outputs)
    headers = dict(INTERNAL)
    if header_length is not None:
        headers["Inference-Header-Content-Length"] = str(header_length)
    response = await client.post(f"/v2/models/{model}/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return triton.InferenceServerClient.parse_response_body(
        response.content, header_length=response.headers.get("inference-header-content-length")
    )


async def test_binary_numeric_input_and_outputs(v2: httpx.AsyncClient) -> None:
    tensor = triton.InferInput("input", [2, 4], "FP32")
    tensor.set_data_from_numpy(np.array([SETOSA, VIRGINICA], dtype=np.float32))
    outputs = [triton.InferRequestedOutput("predict"), triton.InferRequestedOutput("predict_proba")]
    result = await post(v2, "iris", [tensor], outputs)
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
    assert np.allclose(result.as_numpy("predict_proba").sum(axis=1), 1.0)


async def test_json_input_and_outputs(v2: httpx.AsyncClient) -> None:
    tensor = triton.InferInput("input", [1, 4], "INT64")
    tensor.set_data_from_numpy(np.array([[5, 3, 1, 0]], dtype=np.int64), binary_data=False)
    outputs = [triton.InferRequestedOutput("predict", binary_data=False)]
    result = await post(v2, "iris", [tensor], outputs)
    assert result.as_numpy("predict").tolist() == ["setosa"]


async def test_bytes_input_of_a_category_model(v2: httpx.AsyncClient) -> None:
    tensor = triton.InferInput("input", [1, 4], "BYTES")
    tensor.set_data_from_numpy(np.array([CUSTOMER], dtype=object))
    result = await post(v2, "churn", [tensor])
    assert result.as_numpy("predict").tolist()[0] in (b"leave", b"stay")
