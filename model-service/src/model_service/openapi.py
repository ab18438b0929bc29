"""One concrete OpenAPI path per loaded model, with the model's own typed request schema.

The document is rebuilt when the set of loaded models changes (the registry's generation).
"""

import copy
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from model_service.registry import Registry
from shared_schemas.problems import PROBLEM_MEDIA_TYPE

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}},
    }


def _predict_operation(name: str, request_schema: str) -> dict[str, Any]:
    return {
        "tags": ["models"],
        "summary": f"Predict with {name}",
        "operationId": f"predict_{name.replace('-', '_')}",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(request_schema)}},
        },
        "responses": {
            "200": {
                "description": "Predictions",
                "content": {"application/json": {"schema": _ref("PredictResponse")}},
            },
            "404": _problem("No such model"),
            "422": _problem("The request does not fit the model: each error names row and field"),
            "default": _problem("Error (RFC 9457 problem details)"),
        },
    }


def add_model_paths(schema: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """`schema` with `/models/<name>/predict` for every model and its schemas in components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in sorted(registry.models):
        request = registry.get(name).schemas.request
        _, defs = models_json_schema([(request, "validation")], ref_template=REF)
        components.update(defs.get("$defs", {}))
        schema.setdefault("paths", {})[f"/models/{name}/predict"] = {
            "post": _predict_operation(name, request.__name__)
        }
    return schema


def install_model_openapi(app: FastAPI) -> None:
    """Serve the document with per-model paths, rebuilt when models change."""
    generate = app.openapi
    built: dict[str, Any] = {"generation": None, "schema": None}

    def openapi() -> dict[str, Any]:
        registry: Registry | None = getattr(app.state, "registry", None)
        generation = registry.generation if registry is not None else None
        if built["schema"] is None or built["generation"] != generation:
            schema = copy.deepcopy(generate())
            built["schema"] = add_model_paths(schema, registry) if registry else schema
            built["generation"] = generation
        document: dict[str, Any] = built["schema"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
