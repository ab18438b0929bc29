"""Merging the upstreams' OpenAPI documents into the gateway's own: what a reader of
`/openapi.json` sees is exactly the public API, with the credential each operation needs."""

import copy
from typing import Any

import pytest

from gateway.docs.openapi_merge import merge, parse_document
from shared_schemas.auth import ALL_SCOPES

PROBLEM = {"type": "object", "properties": {"status": {"type": "integer"}}}
ERROR = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def operation(operation_id: str, body: str | None = None, reply: str | None = None) -> Any:
    """An operation as FastAPI writes one, with a default problem response."""
    found: dict[str, Any] = {
        "operationId": operation_id,
        "responses": {"default": {"description": "Error", "content": ERROR}},
    }
    if body:
        found["requestBody"] = {"content": {"application/json": {"schema": ref(body)}}}
    if reply:
        found["responses"]["200"] = {
            "description": "OK",
            "content": {"application/json": {"schema": ref(reply)}},
        }
    return found


def document(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "a service", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": {"Problem": PROBLEM, **schemas}},
    }


OWN = document(
    {"/livez": {"get": operation("gateway_livez", reply="Liveness")}},
    {"Liveness": {"type": "object"}},
)
AUTH = document(
    {
        "/livez": {"get": operation("auth_livez", reply="Liveness")},
        "/auth/token": {"post": operation("token", reply="TokenResponse")},
        "/auth/revoke": {"post": operation("revoke")},
        "/auth/me": {"get": operation("me", reply="Status")},
        "/auth/users": {"post": operation("create_user", body="UserCreate")},
        "/internal/introspect": {"post": operation("introspect", reply="Introspection")},
        "/.well-known/jwks.json": {"get": operation("jwks")},
    },
    {
        "Liveness": {"type": "object"},
        "TokenResponse": {"type": "object"},
        "Status": {"type": "string", "enum": ["active", "disabled"]},
        "UserCreate": {"type": "object"},
        "Introspection": {"type": "object"},
    },
)
MODEL = document(
    {
        "/metrics": {"get": operation("metrics")},
        "/models": {"get": operation("list_models", reply="Wrapper")},
        "/models/iris/predict": {
            "post": operation("predict_iris", body="IrisPredictRequest", reply="Status")
        },
        "/v2/health/live": {"get": operation("v2_live")},
        "/v2/repository/index": {"post": operation("index")},
    },
    {
        "Status": {"type": "string", "enum": ["ready", "loading"]},
        "Wrapper": {"type": "object", "properties": {"status": ref("Status")}},
        "IrisPredictRequest": {"type": "object"},
    },
)


def merged() -> dict[str, Any]:
    return merge(OWN, {"auth": AUTH, "model": MODEL})


def test_merge_keeps_only_public_paths() -> None:
    paths = merged()["paths"]
    assert set(paths) == {
        "/livez",
        "/auth/token",
        "/auth/revoke",
        "/auth/me",
        "/auth/users",
        "/.well-known/jwks.json",
        "/models",
        "/models/iris/predict",
        "/v2/health/live",
        "/v2/repository/index",
    }
    assert paths["/livez"]["get"]["operationId"] == "gateway_livez"


def test_merge_declares_both_credentials_with_every_scope() -> None:
    schemes = merged()["components"]["securitySchemes"]
    password = schemes["OAuth2"]["flows"]["password"]
    assert password["tokenUrl"] == "/auth/token"
    assert list(password["scopes"]) == list(ALL_SCOPES)
    assert schemes["APIKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key.",
    }


@pytest.mark.parametrize(
    ("path", "method", "scopes"),
    [
        ("/auth/me", "get", []),
        ("/auth/users", "post", ["users:admin"]),
        ("/models", "get", ["models:read"]),
        ("/models/iris/predict", "post", ["models:predict"]),
        ("/v2/repository/index", "post", ["models:admin"]),
    ],
)
def test_authenticated_operations_name_their_scope(
    path: str, method: str, scopes: list[str]
) -> None:
    found = merged()["paths"][path][method]
    assert found["security"] == [{"OAuth2": scopes}, {"APIKey": scopes}]
    assert found["responses"]["401"]["content"] == ERROR
    assert ("403" in found["responses"]) == bool(scopes)


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/livez", "get", set()),
        ("/auth/token", "post", {"429", "502", "503", "504"}),
        ("/auth/revoke", "post", {"429", "502", "503", "504"}),
        ("/v2/health/live", "get", {"502", "503", "504"}),
        ("/auth/me", "get", {"429", "502", "503", "504"}),
        ("/auth/users", "post", {"413", "429", "502", "503", "504"}),
    ],
)
def test_forwarded_operations_declare_what_the_gateway_answers(
    path: str, method: str, expected: set[str]
) -> None:
    responses = merged()["paths"][path][method]["responses"]
    assert {"413", "429", "502", "503", "504"} & set(responses) == expected
    if "429" in expected:
        assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_a_413_names_the_limit_of_its_route() -> None:
    model = copy.deepcopy(MODEL)
    model["paths"]["/models"]["post"] = operation("upload", body="Status", reply="Status")
    paths = merge(OWN, {"auth": AUTH, "model": model})["paths"]
    upload = paths["/models"]["post"]["responses"]["413"]["description"]
    predict = paths["/models/iris/predict"]["post"]["responses"]["413"]["description"]
    # In bytes, as the 413 says it: callers cannot change the operator's settings.
    assert upload == "The body is larger than this route's limit (268435456 bytes by default)"
    assert predict == "The body is larger than this route's limit (1048576 bytes by default)"


def test_the_gateways_errors_have_each_operations_error_body() -> None:
    oauth = {"application/json": {"schema": ref("OAuthError")}}
    auth = copy.deepcopy(AUTH)
    auth["paths"]["/auth/token"]["post"]["responses"]["400"] = {"content": oauth}
    auth["components"]["schemas"]["OAuthError"] = {"type": "object"}
    paths = merge(OWN, {"auth": auth, "model": MODEL})["paths"]
    assert paths["/auth/token"]["post"]["responses"]["503"]["content"] == oauth
    assert paths["/auth/me"]["get"]["responses"]["503"]["content"] == ERROR


@pytest.mark.parametrize(
    "path", ["/livez", "/auth/token", "/.well-known/jwks.json", "/v2/health/live"]
)
def test_public_operations_need_no_credential(path: str) -> None:
    found = merged()["paths"][path]
    operation = found.get("get") or found["post"]
    assert "security" not in operation
    assert "401" not in operation["responses"]


def test_clashing_components_are_renamed_with_their_references() -> None:
    result = merged()
    schemas = result["components"]["schemas"]
    paths = result["paths"]
    assert schemas["Status"] == AUTH["components"]["schemas"]["Status"]
    assert schemas["ModelStatus"] == MODEL["components"]["schemas"]["Status"]
    predict = paths["/models/iris/predict"]["post"]["responses"]["200"]["content"]
    assert predict["application/json"]["schema"] == ref("ModelStatus")
    me = paths["/auth/me"]["get"]["responses"]["200"]["content"]
    assert me["application/json"]["schema"] == ref("Status")
    # Wrapper is only in the model document, so it keeps its name but follows the rename.
    assert schemas["Wrapper"]["properties"]["status"] == ref("ModelStatus")


def test_a_shared_component_that_refers_to_a_renamed_one_is_renamed_too() -> None:
    holder = {"type": "object", "properties": {"status": ref("Status")}}
    auth = copy.deepcopy(AUTH)
    auth["components"]["schemas"]["Holder"] = holder
    auth["paths"]["/auth/me"]["get"] = operation("me", reply="Holder")
    model = copy.deepcopy(MODEL)
    model["components"]["schemas"]["Holder"] = holder
    model["paths"]["/models"]["get"] = operation("list_models", reply="Holder")
    schemas = merge(OWN, {"auth": auth, "model": model})["components"]["schemas"]
    assert schemas["Holder"]["properties"]["status"] == ref("Status")
    assert schemas["ModelHolder"]["properties"]["status"] == ref("ModelStatus")


def test_identical_components_are_kept_once_and_unused_ones_dropped() -> None:
    schemas = merged()["components"]["schemas"]
    assert schemas["Problem"] == PROBLEM
    assert not any(name.endswith("Problem") and name != "Problem" for name in schemas)
    assert "Introspection" not in schemas  # only /internal/introspect used it
    assert "IrisPredictRequest" in schemas


def test_operation_ids_stay_unique() -> None:
    auth = copy.deepcopy(AUTH)
    auth["paths"]["/auth/me"]["get"]["operationId"] = "list_models"
    ids = [
        op["operationId"]
        for item in merge(OWN, {"auth": auth, "model": MODEL})["paths"].values()
        for op in item.values()
    ]
    assert len(ids) == len(set(ids))


def test_an_unknown_upstream_document_is_left_out() -> None:
    result = merge(OWN, {"auth": AUTH, "model": None})
    assert "/auth/token" in result["paths"]
    assert not any(path.startswith(("/models", "/v2")) for path in result["paths"])
    assert "securitySchemes" in result["components"]


def test_merge_changes_none_of_its_inputs() -> None:
    before = copy.deepcopy((OWN, AUTH, MODEL))
    merged()
    assert before == (OWN, AUTH, MODEL)


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"paths": []}', b'"text"', b"\xff"])
def test_parse_document_refuses_what_is_not_a_document(raw: bytes) -> None:
    assert parse_document(raw) is None


def test_parse_document_reads_a_document() -> None:
    assert parse_document(b'{"openapi": "3.1.0", "paths": {}}') == {
        "openapi": "3.1.0",
        "paths": {},
    }
