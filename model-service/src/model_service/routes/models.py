"""The friendly JSON API: list, describe and predict with each model's own typed contract."""

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from model_service.deps import RegistryDep
from model_service.errors import MODEL_LOOKUP_ERRORS, InvalidInput
from model_service.metrics import ModelMetrics
from model_service.registry import ModelVersion
from servir_runtime.bodies import require_json
from shared_schemas.inference import ModelMetadata, ModelSummary, PredictResponse
from shared_schemas.problems import FieldError, field_error

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(registry: RegistryDep) -> list[ModelSummary]:
    """Every model this service serves."""
    return registry.summaries()


@router.get("/models/{name}", responses=MODEL_LOOKUP_ERRORS)
async def describe_model(name: str, registry: RegistryDep) -> ModelMetadata:
    """A model's versions, features, classes and the JSON Schema of one instance."""
    return registry.metadata(name)


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = exc.errors(include_url=False, include_input=False)
    return [field_error(error, prefix=["body"]) for error in errors]


async def predict_with(model: ModelVersion, body: bytes, metrics: ModelMetrics) -> bytes:
    """Validate, predict (batched) and render, counting the request in the model's metrics."""
    labels = (model.manifest.name, model.manifest.version)
    metrics.requests.labels(*labels).inc()
    started = time.perf_counter()
    try:
        answer = await _predict(model, body, metrics)
    except InvalidInput:
        metrics.errors.labels(*labels, "invalid_input").inc()
        raise
    except Exception:
        metrics.errors.labels(*labels, "model_failed").inc()
        raise
    metrics.latency.labels(*labels).observe(time.perf_counter() - started)
    return answer


async def _predict(model: ModelVersion, body: bytes, metrics: ModelMetrics) -> bytes:
    try:
        parsed: Any = model.schemas.request.model_validate_json(body)
    except ValidationError as exc:
        errors = _field_errors(exc)
        where = ", ".join(".".join(str(p) for p in e.loc[1:]) for e in errors[:5])
        raise InvalidInput(
            f"The request does not fit model {model.manifest.name}: {where}.", errors=errors
        ) from None
    wants_proba = bool(parsed.return_probabilities)
    if wants_proba and not model.has_proba:
        error = FieldError(
            loc=["body", "return_probabilities"],
            msg="this model has no probabilities",
            type="value_error",
        )
        raise InvalidInput("This model has no probabilities.", errors=[error])
    rows = model.schemas.to_array(parsed.instances)
    if model.training_range is not None:
        labels = (model.manifest.name, model.manifest.version)
        metrics.count_out_of_range(*labels, rows, model.training_range)
    predictions, probabilities = await model.queue.submit(rows, proba=wants_proba)
    answer = {
        "model": model.manifest.name,
        "version": model.manifest.version,
        "predictions": predictions.tolist(),
        "probabilities": probabilities.tolist() if probabilities is not None else None,
        "classes": model.classes,
    }
    return orjson.dumps(answer)


@router.post("/models/{name}/predict", response_model=PredictResponse, include_in_schema=False)
async def predict(name: str, request: Request, registry: RegistryDep) -> Response:
    """Predict with the model's default (highest) version."""
    model = registry.get(name)
    require_json(request.headers.get("content-type"))
    answer = await predict_with(model, await request.body(), registry.metrics)
    return Response(answer, media_type="application/json")


@router.post(
    "/models/{name}/versions/{version}/predict",
    response_model=PredictResponse,
    include_in_schema=False,
)
async def predict_version(
    name: str, version: str, request: Request, registry: RegistryDep
) -> Response:
    """Predict with one version of the model."""
    model = registry.get(name, version)
    require_json(request.headers.get("content-type"))
    answer = await predict_with(model, await request.body(), registry.metrics)
    return Response(answer, media_type="application/json")
