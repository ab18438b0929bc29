"""A model's aliases: `production` names the version its unversioned routes serve; others
(`canary`, `staging`) are called as `/models/{name}@{alias}/predict`."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from model_service.deps import ActorDep, RegistryDep, RepositoryDep
from servir_runtime.audit import audit
from shared_schemas.inference import AliasRequest, ModelMetadata

router = APIRouter(tags=["models"])
Alias = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        description="`production`: the version the model's unversioned routes serve; any other "
        "name is called as `/models/{name}@{alias}/predict`",
    ),
]

ALIAS_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such model (or, on DELETE, no such alias)"},
    409: {"description": "DELETE of `production`: point it at another version instead"},
    422: {
        "description": "A bad alias name, a version that is not loaded, or one alias more "
        "than MODEL_MAX_ALIASES"
    },
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
    `production` alias is the version `/models/{name}/predict` and V2 without a version serve;
    another alias needs models:admin to call unless `public` is true."""
    previous = registry.aliases.of(name).get(alias)
    await repository.route(
        name, lambda keeper: keeper.point(name, alias, body.version, public=body.public)
    )
    audit(
        actor=actor,
        action="model.alias",
        target=f"{name}@{alias}",
        version=body.version,
        previous=previous,
        public=body.public,
    )
    return registry.metadata(name)


@router.delete(
    "/models/{name}/aliases/{alias}",
    status_code=204,
    responses=ALIAS_ERRORS,
    response_class=Response,
)
async def remove_alias(
    name: str, alias: Alias, repository: RepositoryDep, registry: RegistryDep, actor: ActorDep
) -> None:
    """Remove an alias of the model, on every replica (not `production`)."""
    previous = registry.aliases.of(name).get(alias)
    await repository.route(name, lambda keeper: keeper.remove(name, alias))
    audit(actor=actor, action="model.unalias", target=f"{name}@{alias}", previous=previous)
