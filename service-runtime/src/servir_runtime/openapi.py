"""Make a service's OpenAPI document tell the truth about its error bodies."""

from typing import Any

from pydantic.json_schema import models_json_schema

from shared_schemas.problems import PROBLEM_MEDIA_TYPE, Problem, V2Problem

REF = "#/components/schemas/{model}"
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_content(name: str) -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model=name)}}}


def _fix_operation(path: str, operation: dict[str, Any]) -> None:
    name = "V2Problem" if path.startswith("/v2") else "Problem"
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = {"description": "Invalid request", "content": _problem_content(name)}
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        # runtime.deps.JsonBody and bodies.require_json: a body declared as anything else.
        responses.setdefault("415", {"description": "The body is not declared as JSON"})
    for status, response in responses.items():
        # An error a route declares by its description alone has the body every error has.
        if status[:1] in {"4", "5"} and isinstance(response, dict) and not response.get("content"):
            response["content"] = _problem_content(name)
    responses.setdefault(
        "default",
        {"description": "Error (RFC 9457 problem details)", "content": _problem_content(name)},
    )


def documented_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's HTTPValidationError with problem+json and add a default error body."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERROR_SCHEMAS:
        components.pop(name, None)
    _, defs = models_json_schema(
        [(Problem, "serialization"), (V2Problem, "serialization")], ref_template=REF
    )
    components.update(defs.get("$defs", {}))
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            _fix_operation(path, operation)
    return schema
