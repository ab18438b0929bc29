"""docs/api.md documents every operation of the gateway's merged OpenAPI, and no other; the docs
point nowhere outside the project."""

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
API = DOCS / "api.md"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# An operation of the reference is a heading: `### POST /auth/token`.
OPERATION = re.compile(r"^#{2,4} (GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) (/\S*)\s*$", re.M)
# The OpenAPI lists one concrete prediction path per loaded model; the reference, the template.
CONCRETE = tuple(
    pattern
    for operation in ("predict", "invocations")
    for pattern in (
        (re.compile(rf"^/models/[^/{{}}]+/{operation}$"), f"/models/{{name}}/{operation}"),
        (
            re.compile(rf"^/models/[^/{{}}]+/versions/[^/{{}}]+/{operation}$"),
            f"/models/{{name}}/versions/{{version}}/{operation}",
        ),
    )
)
LINK = re.compile(r"\]\(([^)\s]+)\)")

Operation = tuple[str, str]


def templated(path: str) -> str:
    """A model's concrete path as its template; any other path as it is."""
    for pattern, template in CONCRETE:
        if pattern.match(path):
            return template
    return path


def openapi_operations(document: dict[str, Any]) -> set[Operation]:
    """(METHOD, path) of every operation in the document, model paths templated."""
    return {
        (method.upper(), templated(path))
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def documented_operations(text: str) -> set[Operation]:
    """(METHOD, path) of every operation heading of the reference."""
    return {(method, path) for method, path in OPERATION.findall(text)}


def test_templating_keeps_the_openapis_own_templates() -> None:
    assert templated("/models/iris/predict") == "/models/{name}/predict"
    assert (
        templated("/models/iris/versions/1/predict") == "/models/{name}/versions/{version}/predict"
    )
    assert templated("/models/iris/invocations") == "/models/{name}/invocations"
    assert templated("/models/{name}") == "/models/{name}"
    assert templated("/v2/models/{name}/infer") == "/v2/models/{name}/infer"


@pytest.mark.anyio
async def test_the_reference_and_the_openapi_name_the_same_operations(
    merged_openapi: dict[str, Any],
) -> None:
    in_openapi = openapi_operations(merged_openapi)
    documented = documented_operations(API.read_text())
    # The demo models' predictions are in the document, so the templates are checked too.
    assert ("POST", "/models/{name}/predict") in in_openapi
    assert sorted(in_openapi - documented) == [], "operations docs/api.md does not document"
    assert sorted(documented - in_openapi) == [], "operations docs/api.md names but nobody serves"


def test_the_reference_has_a_rate_limits_section() -> None:
    assert re.search(r"^## Rate limits$", API.read_text(), re.M)


def test_the_docs_link_nothing_outside_the_project() -> None:
    for page in DOCS.glob("*.md"):
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "#")):
                continue
            resolved = (page.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name} links outside: {target}"
            assert resolved.exists(), f"{page.name} links to a missing file: {target}"
