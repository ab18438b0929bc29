"""One concrete OpenAPI path per loaded model, with the model's own typed request schema.

The document is rebuilt when the set of loaded models changes (the registry's generation).
"""

import copy
import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from model_service.deps import registry_if_started
from model_service.models.registry import Registry
from shared_schemas.inference import PredictResponse
from shared_schemas.problems import PROBLEM_MEDIA_TYPE

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}},
    }


def _predict_operation(name: str, request_schema: str, version: str | None) -> dict[str, Any]:
    which = f"{name} version {version}" if version else name
    suffix = f"_v{version}" if version else ""
    return {
        "tags": ["models"],
        "summary": f"Predict with {which}",
        "operationId": f"predict_{name.replace('-', '_')}{suffix}",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(request_schema)}},
        },
        "responses": {
            "200": {
                "description": "Predictions",
                "content": {"application/json": {"schema": _ref("PredictResponse")}},
            },
            "404": _problem("No such model (or version): it was deleted or unloaded"),
            "415": _problem("The body is not declared as JSON"),
            "422": _problem(
                "The request does not fit the model: each error names row and field; "
                "or the model cannot take the values"
            ),
            "503": _problem("The model failed to load (Retry-After)"),
            "default": _problem("Error (RFC 9457 problem details)"),
        },
    }


def _add_request_schema(components: dict[str, Any], request: type[BaseModel], version: str) -> str:
    """Add a version's request schema (and what it refers to); the request schema's name.

    Versions of a model whose contracts differ get their own names: `IrisPredictRequestV2`.
    """
    _, found = models_json_schema([(request, "validation")], ref_template=REF)
    defs: dict[str, Any] = found.get("$defs", {})
    name = request.__name__
    if any(key in components and components[key] != value for key, value in defs.items()):
        renames = {key: f"{key}V{version}" for key in defs}
        text = json.dumps(defs)
        for old, new in renames.items():
            text = text.replace(
                json.dumps(REF.format(model=old)), json.dumps(REF.format(model=new))
            )
        defs = {renames[key]: value for key, value in json.loads(text).items()}
        name = renames[name]
    components.update(defs)
    return name


def add_model_paths(schema: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """`schema` with `/models/<name>/predict` for every model and
    `/models/<name>/versions/<version>/predict` for each of its versions, each with that
    model's typed request schema. The templated routes stay out: a path template cannot say
    which model's schema a body must fit."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, answer = models_json_schema([(PredictResponse, "serialization")], ref_template=REF)
    components.update(answer.get("$defs", {}))
    paths = schema.setdefault("paths", {})
    for name in sorted(registry.models):
        default = registry.default_version(name)  # may not serve here: then no default path
        for version in registry.versions(name):
            model = registry.get(name, version)
            request = _add_request_schema(components, model.schemas.request, version)
            operation = _predict_operation(name, request, version)
            paths[f"/models/{name}/versions/{version}/predict"] = {"post": operation}
            if version == default:
                paths[f"/models/{name}/predict"] = {"post": _predict_operation(name, request, None)}
    return schema


class ModelPaths:
    """The service's document with a path per loaded model and version, rebuilt when models
    change (the registry's generation); an `openapi_view` of `build_service_app`."""

    def __init__(self) -> None:
        self.generation: int | None = None
        self.document: dict[str, Any] | None = None

    def __call__(self, app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
        registry = registry_if_started(app)
        generation = registry.generation if registry is not None else None
        if self.document is None or self.generation != generation:
            document = copy.deepcopy(schema)
            self.document = add_model_paths(document, registry) if registry else document
            self.generation = generation
        return self.document
