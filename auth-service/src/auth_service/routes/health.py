"""Readiness of the auth-service."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from auth_service.deps import RedisDep
from servir_runtime.redis_client import redis_check
from shared_schemas.health import CHECK_OK, Readiness

router = APIRouter(tags=["health"])


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(redis: RedisDep) -> JSONResponse:
    """Ready when Redis, which holds every identity, answers."""
    check = await redis_check(redis)
    ready = check == CHECK_OK
    body = Readiness(status="ready" if ready else "not_ready", checks={"redis": check})
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ready else 503)
