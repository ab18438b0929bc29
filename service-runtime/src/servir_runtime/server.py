"""Run a service under uvicorn the way production does: uvloop, httptools, no access log."""

import asyncio
import math
import signal
import sys

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE

from servir_runtime.settings import ServiceSettings
from servir_runtime.uvicorn_private import use_rfc9110_reasons


def serve(
    app: ASGIApp, settings: ServiceSettings, *, http: type[asyncio.Protocol] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM, letting accepted requests finish within the grace period,
    then exit 0. `http` replaces uvicorn's httptools protocol (e.g. one bounding heads)."""
    use_rfc9110_reasons()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=http or "httptools",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # uvicorn takes whole seconds: round up, since truncating would turn a grace of 0.5 s
        # into none at all (in-flight requests cancelled at once).
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )
    server = uvicorn.Server(config)
    # After draining, uvicorn restores the signal handlers it found and raises the signal it
    # caught again, so with the default handlers a clean SIGTERM shutdown would still end the
    # process by that signal (status 143). With the server's own handler in their place the
    # re-raise is a no-op, and a signal that arrives before uvicorn listens stops it too.
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, server.handle_exit)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
