"""The friendly JSON API: list and describe the models, each with its own typed contract.

Predictions (`POST /models/{name}[/versions/{version}]/predict`) are served by the fast path
(fastpath.py) in front of these routes, and documented per model (openapi.py).
"""

from fastapi import APIRouter

from model_service.deps import PlaneDep
from model_service.errors import MODEL_LOOKUP_ERRORS
from shared_schemas.inference import ModelMetadata, ModelSummary

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(plane: PlaneDep) -> list[ModelSummary]:
    """Every model this service serves."""
    return plane.summaries()


@router.get("/models/{name}", responses=MODEL_LOOKUP_ERRORS)
async def describe_model(name: str, plane: PlaneDep) -> ModelMetadata:
    """A model's versions, features, classes and the JSON Schema of one instance."""
    return plane.metadata(name)
