"""Moving a model's production alias is an admin action at the gateway (issue 13, item 4)."""

import pytest

from tests.gateway.fake_auth import bearer, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]
PATH = "/models/iris/aliases/production"


async def test_moving_an_alias_needs_models_admin() -> None:
    async with running_stack() as stack:
        user = stack.fake.signer.token(scope="models:read models:predict")
        admin = stack.fake.signer.token(scope="models:admin")
        refused = await stack.client.put(PATH, json={"version": "2"}, headers=bearer(user))
        assert stack.model.requests == []
        allowed = await stack.client.put(PATH, json={"version": "2"}, headers=bearer(admin))
    assert refused.status_code == 403
    assert "models:admin" in refused.json()["detail"]
    assert allowed.status_code == 200
    assert stack.model.request_line().startswith(f"PUT {PATH} ")
