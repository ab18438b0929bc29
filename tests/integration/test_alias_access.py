"""An alias other than production through the gateway (issue 15, item 1): the gateway forwards
the caller's scopes, and the model-service serves a private alias to models:admin only, a
public one to any caller with models:predict; at `/models/{name}@{alias}/predict` and at the V2
version path stock clients use."""

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import admin_token, bearer, new_user

pytestmark = pytest.mark.integration
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
V2_BODY = {
    "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]
}


@pytest.fixture
def admin(gateway: httpx.Client, stack: RunningStack) -> Iterator[dict[str, str]]:
    """The admin's headers; the test's `canary` alias of iris is removed afterwards."""
    headers = bearer(admin_token(gateway, stack))
    yield headers
    gateway.delete("/models/iris/aliases/canary", headers=headers)


def test_a_private_alias_serves_admins_and_a_public_one_everyone_who_predicts(
    gateway: httpx.Client, stack: RunningStack, admin: dict[str, str]
) -> None:
    predictor = bearer(new_user(gateway, stack, "aliased", ["models:read", "models:predict"])[1])
    pointed = gateway.put("/models/iris/aliases/canary", json={"version": "1"}, headers=admin)
    assert pointed.status_code == 200, pointed.text
    by_name, by_version = "/models/iris@canary/predict", "/v2/models/iris/versions/canary/infer"

    refused = gateway.post(by_name, json={"instances": [SETOSA]}, headers=predictor)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert gateway.post(by_version, json=V2_BODY, headers=predictor).status_code == 403
    # Scopes the caller claims itself never reach the model-service: the gateway sends its own.
    claimed = {**predictor, "X-Servir-Scopes": "models:admin"}
    assert gateway.post(by_name, json={"instances": [SETOSA]}, headers=claimed).status_code == 403
    answered = gateway.post(by_name, json={"instances": [SETOSA]}, headers=admin)
    assert answered.status_code == 200, answered.text
    assert answered.json()["version"] == "1"

    body = {"version": "1", "public": True}
    assert gateway.put("/models/iris/aliases/canary", json=body, headers=admin).status_code == 200
    assert gateway.post(by_name, json={"instances": [SETOSA]}, headers=predictor).status_code == 200
    inferred = gateway.post(by_version, json=V2_BODY, headers=predictor)
    assert inferred.status_code == 200, inferred.text
    assert inferred.json()["model_version"] == "1"

    # Only an admin moves or removes aliases.
    assert gateway.delete("/models/iris/aliases/canary", headers=predictor).status_code == 403
    assert gateway.delete("/models/iris/aliases/canary", headers=admin).status_code == 204
    assert gateway.post(by_name, json={"instances": [SETOSA]}, headers=admin).status_code == 404
