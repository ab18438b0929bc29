"""Run a service under uvicorn the way production does: uvloop, httptools, no access log."""

import uvicorn
from fastapi import FastAPI

from shared_schemas.runtime.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve until SIGINT/SIGTERM, letting accepted requests finish within the grace period."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
