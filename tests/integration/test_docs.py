"""The gateway's `/openapi.json` and `/docs` on the real stack: one document for the whole
public API, each model's typed request in it, kept up to date as models come and go."""

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import admin_token, bearer
from tests.model_service.test_repository import bundle_archive

pytestmark = pytest.mark.integration

DEMO_MODELS = ("iris", "breast-cancer", "churn")
FOLLOW_SECONDS = 2.0


def openapi(gateway: httpx.Client) -> dict[str, Any]:
    response = gateway.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The component a `$ref` names."""
    name = schema["$ref"].removeprefix("#/components/schemas/")
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


@pytest.mark.parametrize("name", DEMO_MODELS)
def test_openapi_types_each_demo_models_request(
    gateway: httpx.Client, stack: RunningStack, name: str
) -> None:
    document = openapi(gateway)
    operation = document["paths"][f"/models/{name}/predict"]["post"]
    request = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    instance = resolve(document, request["properties"]["instances"]["items"])
    metadata = gateway.get(f"/models/{name}", headers=bearer(admin_token(gateway, stack))).json()
    assert sorted(instance["properties"]) == sorted(f["name"] for f in metadata["features"])
    assert instance["additionalProperties"] is False
    assert operation["security"] == [{"OAuth2": ["models:predict"]}, {"APIKey": ["models:predict"]}]


def test_openapi_declares_how_to_authorize(gateway: httpx.Client) -> None:
    document = openapi(gateway)
    schemes = document["components"]["securitySchemes"]
    password = schemes["OAuth2"]["flows"]["password"]
    assert password["tokenUrl"] == "/auth/token"
    assert set(password["scopes"]) == {
        "models:read",
        "models:predict",
        "models:admin",
        "users:admin",
    }
    assert (schemes["APIKey"]["in"], schemes["APIKey"]["name"]) == ("header", "X-API-Key")
    assert "security" not in document["paths"]["/auth/token"]["post"]
    assert document["paths"]["/auth/users"]["post"]["security"][0] == {"OAuth2": ["users:admin"]}


def test_openapi_shows_only_what_the_gateway_serves(gateway: httpx.Client) -> None:
    paths = set(openapi(gateway)["paths"])
    assert not any(path.startswith(("/internal", "/metrics")) for path in paths)
    assert {"/livez", "/readyz", "/auth/token", "/models", "/v2/health/ready"} <= paths
    assert all(
        path in {"/livez", "/readyz", "/.well-known/jwks.json"}
        or path.startswith(("/auth/", "/models", "/v2"))
        for path in paths
    )


def test_docs_page_needs_nothing_from_another_host(gateway: httpx.Client) -> None:
    page = gateway.get("/docs")
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert page.status_code == 200
    assert not re.search(r"https?:|//[a-z]", page.text)
    assert all(gateway.get(url).status_code == 200 for url in linked)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "http" not in csp


def renamed_iris(demo_models: Path, name: str) -> bytes:
    """The demo iris bundle under another model name."""
    source = demo_models / "iris" / "1"
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["name"] = name
    files = {
        "manifest.json": json.dumps(manifest).encode(),
        "model.skops": (source / "model.skops").read_bytes(),
    }
    return bundle_archive(files)


def wait_for_path(gateway: httpx.Client, path: str, *, present: bool) -> None:
    """Wait until `path` is in /openapi.json (or gone); fail past FOLLOW_SECONDS."""
    started = time.monotonic()
    while (path in openapi(gateway)["paths"]) != present:
        assert time.monotonic() - started < FOLLOW_SECONDS, f"{path} present={not present}"
        time.sleep(0.05)


def test_openapi_follows_an_uploaded_and_deleted_model(
    gateway: httpx.Client, stack: RunningStack, demo_models: Path
) -> None:
    name = f"docs-{uuid.uuid4().hex[:8]}"
    path = f"/models/{name}/predict"
    admin = bearer(admin_token(gateway, stack))
    assert path not in openapi(gateway)["paths"]
    bundle = {"bundle": ("bundle.tar.gz", renamed_iris(demo_models, name), "application/gzip")}
    created = gateway.post("/models", files=bundle, headers=admin)
    assert created.status_code == 201, created.text
    wait_for_path(gateway, path, present=True)

    deleted = gateway.delete(f"/models/{name}/versions/1", headers=admin)
    assert deleted.status_code == 204
    wait_for_path(gateway, path, present=False)
