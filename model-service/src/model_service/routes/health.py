"""Readiness, and the Open Inference Protocol's server endpoints."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from model_service.deps import RedisDep, RegistryDep
from model_service.errors import EMPTY_OK
from model_service.models.registry import READY
from servir_runtime.redis_client import redis_check
from shared_schemas.health import CHECK_OK, Readiness, ReadinessStatus
from shared_schemas.inference import V2ServerMetadata

SERVER_NAME = "servir"
SERVER_VERSION = "0.1.0"
V2_EXTENSIONS = ["model_repository", "binary_tensor_data"]

router = APIRouter()


@router.get("/readyz", response_model=Readiness, tags=["health"])
async def readyz(redis: RedisDep, registry: RegistryDep) -> JSONResponse:
    """Ready to infer; degraded (still serving) when Redis, used only for broadcasts, is down
    or a model failed to load while others serve."""
    check = await redis_check(redis)
    models = registry.readiness()
    healthy = check == CHECK_OK and all(state == READY for state in models.values())
    status: ReadinessStatus = "ready" if healthy else "degraded"
    body = Readiness(status=status, checks={"redis": check}, models=models)
    return JSONResponse(body.model_dump())


@router.get("/metrics", include_in_schema=False)
async def metrics(registry: RegistryDep) -> Response:
    """Prometheus metrics (open like /livez: they carry no secret)."""
    return Response(registry.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v2", tags=["v2"])
async def server_metadata() -> V2ServerMetadata:
    """Open Inference Protocol server metadata."""
    return V2ServerMetadata(name=SERVER_NAME, version=SERVER_VERSION, extensions=V2_EXTENSIONS)


@router.get("/v2/health/live", tags=["v2"], response_class=Response, responses=EMPTY_OK)
async def server_live() -> Response:
    """Open Inference Protocol liveness: 200 while the process serves."""
    return Response(status_code=200)


@router.get("/v2/health/ready", tags=["v2"], response_class=Response, responses=EMPTY_OK)
async def server_ready() -> Response:
    """Open Inference Protocol readiness: 200 once the service can run inference."""
    return Response(status_code=200)
