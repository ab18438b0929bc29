"""Every route of docs/api.md needs what docs/api.md says, and unknown writes need an admin."""

import pytest

from gateway.auth.access import AUTHENTICATED, PUBLIC, Principal, missing_scope, required_access

pytestmark = pytest.mark.timeout(10)

RULES = [
    ("GET", "/livez", PUBLIC),
    ("GET", "/readyz", PUBLIC),
    ("HEAD", "/docs", PUBLIC),
    ("GET", "/openapi.json", PUBLIC),
    ("GET", "/.well-known/jwks.json", PUBLIC),
    ("POST", "/auth/token", PUBLIC),
    ("POST", "/auth/revoke", PUBLIC),
    ("GET", "/v2/health/live", PUBLIC),
    ("HEAD", "/v2/health/ready", PUBLIC),
    # Another method on a public path: the upstream's 405 + Allow, whoever asks (RFC 9110).
    ("GET", "/auth/token", PUBLIC),
    ("POST", "/.well-known/jwks.json", PUBLIC),
    ("PUT", "/v2/health/live", PUBLIC),
    ("GET", "/auth/me", AUTHENTICATED),
    ("POST", "/auth/me/password", AUTHENTICATED),
    ("POST", "/auth/api-keys", AUTHENTICATED),
    ("GET", "/auth/api-keys", AUTHENTICATED),
    ("DELETE", "/auth/api-keys/k1", AUTHENTICATED),
    ("GET", "/auth/elsewhere", AUTHENTICATED),
    ("POST", "/auth/users", "users:admin"),
    ("GET", "/auth/users", "users:admin"),
    ("PATCH", "/auth/users/bob", "users:admin"),
    ("DELETE", "/auth/users/bob", "users:admin"),
    ("GET", "/models", "models:read"),
    ("HEAD", "/models/iris", "models:read"),
    ("GET", "/models/iris/versions/1", "models:read"),
    ("POST", "/models/iris/predict", "models:predict"),
    ("POST", "/models/iris/versions/2/predict", "models:predict"),
    ("POST", "/models/iris/invocations", "models:predict"),
    ("POST", "/models/iris/versions/2/invocations", "models:predict"),
    ("GET", "/models/iris/invocations", "models:read"),
    ("POST", "/models", "models:admin"),
    ("DELETE", "/models/iris/versions/1", "models:admin"),
    ("POST", "/models//predict", "models:admin"),
    ("POST", "/models/iris/predict/", "models:admin"),
    ("PUT", "/models/iris", "models:admin"),
    ("PUT", "/models/iris/aliases/production", "models:admin"),
    ("OPTIONS", "/models/iris", AUTHENTICATED),
    ("GET", "/v2", "models:read"),
    ("GET", "/v2/models/iris", "models:read"),
    ("GET", "/v2/models/iris/versions/1/ready", "models:read"),
    ("POST", "/v2/models/iris/infer", "models:predict"),
    ("POST", "/v2/models/iris/versions/1/infer", "models:predict"),
    ("POST", "/v2/repository/index", "models:admin"),
    ("POST", "/v2/repository/models/iris/load", "models:admin"),
    ("POST", "/v2/models/iris/predict", "models:admin"),
    ("POST", "/v2/health/livez", "models:admin"),
]


@pytest.mark.parametrize(("method", "path", "expected"), RULES)
def test_required_access_follows_api_md(method: str, path: str, expected: str) -> None:
    assert required_access(method, path) == expected


def test_missing_scope_names_the_scope_only_when_lacking() -> None:
    reader = Principal(name="key:k1", username="bob", scopes=("models:read",))
    assert missing_scope(reader, "models:read") is None
    assert missing_scope(reader, AUTHENTICATED) is None
    assert missing_scope(reader, "models:predict") == "models:predict"
