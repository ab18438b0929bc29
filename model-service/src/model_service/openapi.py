"""One concrete OpenAPI path per loaded model, with the model's own typed request schema.

Each model and version has `predict` (the own form; MLflow's bodies are served there too) and
`invocations` (MLflow's scoring protocol), with its description, an example at typical values
and its answer typed by its classes. The document is rebuilt when the set of loaded models
changes (the registry's generation).
"""

import copy
import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from model_service import errors
from model_service.deps import registry_if_started
from model_service.formats.examples import typical_row
from model_service.formats.openapi import (
    DESCRIPTION as MLFLOW_DESCRIPTION,
)
from model_service.formats.openapi import (
    labels_schema,
    mlflow_answer,
    mlflow_example,
    mlflow_request,
)
from model_service.models.registry import ModelVersion, Registry
from shared_schemas.inference import PredictResponse
from shared_schemas.problems import PROBLEM_MEDIA_TYPE

REF = "#/components/schemas/{model}"
PREDICT_DESCRIPTION = (
    "Rows as objects by feature name. MLflow's bodies (`dataframe_split`, `dataframe_records`, "
    "`instances` as lists, `inputs`) and `text/csv` with a header row are taken too."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}},
    }


# The model's own failure on input that passed its contract, with an example of its body.
MODEL_ERROR: dict[str, Any] = {
    "description": errors.MODEL_ERROR[500]["description"],
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "schema": _ref("Problem"),
            "example": {"type": "about:blank", "title": "Model error", "status": 500},
        }
    },
}


def _errors() -> dict[str, Any]:
    return {
        "404": _problem("No such model (or version): it was deleted or unloaded"),
        "415": _problem("The body is neither JSON nor CSV"),
        "422": _problem("The request does not fit the model: each error names row and field"),
        "500": copy.deepcopy(MODEL_ERROR),
        "503": _problem("The model failed to load (Retry-After)"),
        "default": _problem("Error (RFC 9457 problem details)"),
    }


def _json(schema: Any, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _operation(model: ModelVersion, kind: str, version: str | None, **parts: Any) -> Any:
    name = model.manifest.name
    which = f"{name} version {version}" if version else name
    suffix = f"_v{version}" if version else ""
    return {
        "tags": ["models"],
        "summary": f"{kind} with {which}",
        "description": f"{model.manifest.description}\n\n{parts.pop('about')}".strip(),
        "operationId": f"{kind.lower()}_{name.replace('-', '_')}{suffix}",
        **parts,
    }


def _predict(model: ModelVersion, request: str, answer: Any, version: str | None) -> Any:
    example = {"instances": [typical_row(model.manifest)], "return_probabilities": False}
    return _operation(
        model,
        "Predict",
        version,
        about=PREDICT_DESCRIPTION,
        requestBody={"required": True, "content": _json(_ref(request), example)},
        responses={"200": {"description": "Predictions", "content": _json(answer)}, **_errors()},
    )


def _invocations(model: ModelVersion, body: Any, version: str | None) -> Any:
    content = _json(body, mlflow_example(model))
    answer = _json(mlflow_answer(model))
    return _operation(
        model,
        "Invocations",
        version,
        about=MLFLOW_DESCRIPTION,
        requestBody={"required": True, "content": content},
        responses={"200": {"description": "MLflow's answer", "content": answer}, **_errors()},
    )


def _typed_answer(components: dict[str, Any], model: ModelVersion) -> dict[str, Any]:
    """PredictResponse with the predictions (and classes) typed by the model's labels."""
    answer = copy.deepcopy(components["PredictResponse"])
    answer["title"] = model.schemas.request.__name__.removesuffix("Request") + "Response"
    labels = labels_schema(model)
    answer["properties"]["predictions"]["items"] = labels
    answer["properties"]["classes"] = {
        "anyOf": [{"type": "array", "items": labels}, {"type": "null"}]
    }
    return dict(answer)


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


def _model_paths(components: dict[str, Any], model: ModelVersion, version: str) -> Any:
    """The operations of one version: predict and invocations, by operation name."""
    request = _add_request_schema(components, model.schemas.request, version)
    instance_ref = components[request]["properties"]["instances"]["items"]["$ref"]
    instance = components[instance_ref.rsplit("/", 1)[-1]]
    body = mlflow_request(instance, instance_ref, model)
    answer = _typed_answer(components, model)
    return lambda named: {
        "predict": _predict(model, request, answer, named),
        "invocations": _invocations(model, body, named),
    }


def add_model_paths(schema: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """`schema` with `/models/<name>/predict` and `/invocations` for every model and under
    `/models/<name>/versions/<version>/` for each of its versions, each with that model's
    typed schemas. The templated routes stay out: a path template cannot say which model's
    schema a body must fit."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, answer = models_json_schema([(PredictResponse, "serialization")], ref_template=REF)
    components.update(answer.get("$defs", {}))
    paths = schema.setdefault("paths", {})
    for name in sorted(registry.models):
        default = registry.default_version(name)  # may not serve here: then no default path
        for version in registry.versions(name):
            model = registry.get(name, version)
            operations = _model_paths(components, model, version)
            for kind, operation in operations(version).items():
                paths[f"/models/{name}/versions/{version}/{kind}"] = {"post": operation}
            if version == default:
                for kind, operation in operations(None).items():
                    paths[f"/models/{name}/{kind}"] = {"post": operation}
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
