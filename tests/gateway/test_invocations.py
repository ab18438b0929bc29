"""MLflow's scoring protocol through the gateway: `invocations` is forwarded as predictions
are, needing `models:predict` (an MLflow client pointed at the model's base works)."""

import pytest

from tests.gateway.fake_auth import bearer, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]
BODY = b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}'
PATHS = ("/models/iris/invocations", "/models/iris/versions/1/invocations")


@pytest.mark.parametrize("path", PATHS)
async def test_invocations_are_forwarded_with_models_predict(path: str) -> None:
    async with running_stack() as stack:
        token = stack.fake.signer.token(scope="models:predict")
        headers = {**bearer(token), "Content-Type": "text/csv"}
        response = await stack.client.post(path, content=BODY, headers=headers)
    assert response.status_code == 200
    assert stack.model.request_line() == f"POST {path} HTTP/1.1"
    assert stack.model.bodies[-1] == BODY
    assert ("content-type", "text/csv") in stack.model.headers()


@pytest.mark.parametrize("path", PATHS)
async def test_invocations_without_models_predict_are_403(path: str) -> None:
    async with running_stack() as stack:
        token = stack.fake.signer.token(scope="models:read")
        response = await stack.client.post(path, content=BODY, headers=bearer(token))
    assert response.status_code == 403
    assert "models:predict" in response.json()["detail"]
    assert stack.model.requests == []
