"""The model repository: index, load, unload, upload, delete (each reaches every replica)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from model_service.deps import ActorDep, RegistryDep, RepositoryDep
from model_service.repository.uploads import FIELD
from servir_runtime.audit import audit
from shared_schemas.inference import ModelMetadata, RepositoryIndexEntry, RepositoryIndexRequest

router = APIRouter()

UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "A .tar.gz holding manifest.json and model.skops.",
                        }
                    },
                }
            }
        },
    }
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ModelMetadata,
        "description": "The same bundle (manifest and model file, by sha256) was installed "
        "already, by an earlier try of this upload: served, as the 201 would have it",
    },
    201: {"description": "Installed, and served by every replica"},
    400: {"description": "The multipart/form-data body is malformed"},
    409: {"description": "That name and version exist with another bundle"},
    413: {"description": "The bundle is too large"},
    415: {"description": "Not multipart/form-data"},
    422: {
        "description": "The bundle was refused (layout, archive limits, manifest, checksum, "
        "types, structural validation, its verifying load, its test predictions, or its own "
        "examples answered otherwise than recorded)"
    },
}
LOADED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Done on every replica"},
    404: {"description": "No such model in the store (load) or served (unload)"},
}


@router.post(
    "/models",
    status_code=201,
    tags=["models"],
    openapi_extra=UPLOAD_DOC,
    responses=UPLOAD_ERRORS,
)
async def upload_model(
    request: Request,
    response: Response,
    repository: RepositoryDep,
    registry: RegistryDep,
    actor: ActorDep,
) -> ModelMetadata:
    """Upload a bundle (.tar.gz, field `bundle`): a new version, served by every replica.
    Sending the same bundle again (a retry after a timeout) answers 200; another bundle under
    an existing name and version, 409."""
    loaded, created = await repository.upload(
        chunks=request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
    )
    target = f"{loaded.manifest.name}/{loaded.manifest.version}"
    audit(actor=actor, action="model.upload", target=target, repeated=not created)
    if not created:
        response.status_code = 200
    return registry.metadata(loaded.manifest.name, loaded.manifest.version)


@router.delete(
    "/models/{name}/versions/{version}",
    status_code=204,
    tags=["models"],
    responses={
        404: {"description": "No such model version"},
        409: {"description": "An alias points at this version, and it is not the last one"},
        503: {"description": "Redis, which holds the aliases, is unreachable: nothing changed"},
    },
)
async def delete_model_version(
    name: str, version: str, repository: RepositoryDep, actor: ActorDep
) -> Response:
    """Stop serving a version on every replica and delete it from the store. While an alias
    points at it (`production`: the version served by default), 409, unless it is the model's
    last version: its aliases go with it."""
    await repository.delete(name, version)
    audit(actor=actor, action="model.delete", target=f"{name}/{version}")
    return Response(status_code=204)


@router.post("/v2/repository/index", tags=["v2"])
async def repository_index(
    repository: RepositoryDep, body: RepositoryIndexRequest | None = None
) -> list[RepositoryIndexEntry]:
    """Every bundle in the store: READY, or UNAVAILABLE with the reason."""
    return repository.index(ready_only=body is not None and body.ready)


@router.post(
    "/v2/repository/models/{name}/load", tags=["v2"], response_class=Response, responses=LOADED
)
async def load_model(name: str, repository: RepositoryDep, actor: ActorDep) -> Response:
    """Load (or reload) every version of the model from the store, on every replica."""
    versions = await repository.load(name)
    audit(actor=actor, action="model.load", target=name, versions=versions)
    return Response(status_code=200)


@router.post(
    "/v2/repository/models/{name}/unload", tags=["v2"], response_class=Response, responses=LOADED
)
async def unload_model(name: str, repository: RepositoryDep, actor: ActorDep) -> Response:
    """Stop serving every version of the model, on every replica."""
    versions = await repository.unload(name)
    audit(actor=actor, action="model.unload", target=name, versions=versions)
    return Response(status_code=200)
