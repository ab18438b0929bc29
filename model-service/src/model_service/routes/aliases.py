"""A model's aliases: `production` names the version its unversioned routes serve."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path

from model_service.deps import ActorDep, RegistryDep, RepositoryDep
from servir_runtime.audit import audit
from shared_schemas.inference import AliasRequest, ModelMetadata

router = APIRouter(tags=["models"])
# The aliases that can be set, as the OpenAPI document says (the repository checks again).
Alias = Annotated[
    Literal["production"],
    Path(description="`production`: the version the model's unversioned routes serve"),
]

ALIAS_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such model"},
    422: {"description": "An alias name that cannot be set, or a version that is not loaded"},
    503: {"description": "Redis, which holds the aliases, is unreachable: nothing changed"},
}


@router.put("/models/{name}/aliases/{alias}", responses=ALIAS_ERRORS)
async def set_alias(
    name: str,
    alias: Alias,
    body: AliasRequest,
    repository: RepositoryDep,
    registry: RegistryDep,
    actor: ActorDep,
) -> ModelMetadata:
    """Point an alias of the model at one of its loaded versions, on every replica. The
    `production` alias is the version `/models/{name}/predict` and V2 without a version serve
    (for now the only alias)."""
    previous = registry.aliases.of(name).get(alias)
    await repository.point_alias(name, alias, body.version)
    audit(
        actor=actor,
        action="model.alias",
        target=f"{name}@{alias}",
        version=body.version,
        previous=previous,
    )
    return registry.metadata(name)
