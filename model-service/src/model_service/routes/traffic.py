"""A model's traffic split: how its unversioned routes share requests between versions."""

from typing import Any

from fastapi import APIRouter, Response

from model_service.deps import ActorDep, RegistryDep, RepositoryDep
from servir_runtime.audit import audit
from servir_runtime.problems import NotFound
from shared_schemas.inference import TrafficSplit

router = APIRouter(tags=["models"])
TRAFFIC_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such model (on GET and DELETE: or no split set)"},
    422: {"description": "Weights that do not sum to 100, or a version that is not loaded"},
    503: {"description": "Redis, which holds the splits, is unreachable: nothing changed"},
}


@router.put("/models/{name}/traffic", responses=TRAFFIC_ERRORS)
async def set_traffic(
    name: str, body: TrafficSplit, repository: RepositoryDep, registry: RegistryDep, actor: ActorDep
) -> TrafficSplit:
    """Share the model's unversioned routes between loaded versions (integer weights summing
    to 100), on every replica; versioned and aliased routes are never split."""
    previous = registry.aliases.splits.get(name)
    await repository.route(name, lambda keeper: keeper.set_traffic(name, body))
    was = previous.spec.model_dump() if previous is not None else None
    audit(actor=actor, action="model.traffic", target=name, split=body.model_dump(), previous=was)
    return body


@router.get("/models/{name}/traffic", responses=TRAFFIC_ERRORS)
async def get_traffic(name: str, registry: RegistryDep) -> TrafficSplit:
    """The model's traffic split; 404 while none is set (`production` then serves)."""
    registry.get(name)  # 404 for an unknown model
    split = registry.aliases.splits.get(name)
    if split is None:
        raise NotFound(f"Model {name} has no traffic split: its production alias serves.")
    return split.spec


@router.delete(
    "/models/{name}/traffic", status_code=204, responses=TRAFFIC_ERRORS, response_class=Response
)
async def clear_traffic(
    name: str, repository: RepositoryDep, registry: RegistryDep, actor: ActorDep
) -> None:
    """Stop splitting: the `production` alias serves the unversioned routes again."""
    previous = registry.aliases.splits.get(name)
    if previous is None:
        registry.get(name)
        raise NotFound(f"Model {name} has no traffic split.")
    await repository.route(name, lambda keeper: keeper.set_traffic(name, None))
    audit(
        actor=actor,
        action="model.traffic",
        target=name,
        split=None,
        previous=previous.spec.model_dump(),
    )
