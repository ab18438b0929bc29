"""One pure-ASGI layer per service: request id, internal-token guard, access log, last-resort 500.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it adds a few microseconds, not a task hop.
"""

import asyncio
import hmac
import logging
import random
import time
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servir_runtime.context import request_id_from, request_id_var
from servir_runtime.problems import problem_response

INTERNAL_TOKEN_HEADER = b"x-servir-internal-token"
OPEN_PATHS = frozenset({"/livez", "/readyz", "/metrics"})

# Called once per request with its scope, status (0: no answer was sent) and duration.
Observer = Callable[[Scope, int, float], None]

access_logger = logging.getLogger("servir.access")
error_logger = logging.getLogger("servir.errors")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class ServiceMiddleware:
    """Tags each request with an id, guards internal routes, logs a sampled line per request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log_sample: float,
        internal_token: str | None = None,
        open_paths: Iterable[str] = OPEN_PATHS,
        observe: Observer | None = None,
    ) -> None:
        self.app = app
        self.observe = observe
        self.sample = access_log_sample
        self.token = internal_token.encode() if internal_token is not None else None
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request (other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_header(scope, b"x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id
        reset = request_id_var.set(request_id)
        id_header = (b"x-request-id", request_id.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        started = time.perf_counter()
        try:
            if self._allowed(scope):
                await self.app(scope, receive, send_with_id)
            else:
                await self._refuse(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # The server cut the request (a shutdown grace ran out): say so, then stop.
            if not status:
                await self._cut(scope, receive, send_with_id)
            raise
        except Exception:
            error_logger.exception("unhandled error", extra={"path": scope["path"]})
            if status:
                raise
            await self._fail(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self._log(scope, status, seconds)
            if self.observe is not None:
                self.observe(scope, status, seconds)
            request_id_var.reset(reset)

    def _allowed(self, scope: Scope) -> bool:
        if self.token is None or scope["path"] in self.open_paths:
            return True
        given = _header(scope, INTERNAL_TOKEN_HEADER)
        return given is not None and hmac.compare_digest(given, self.token)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = "This service answers only requests that come through the Servir gateway."
        response = problem_response(status=401, detail=detail, instance=scope["path"])
        await response(scope, receive, send)

    async def _fail(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = "The service failed to handle this request; it has been logged."
        response = problem_response(status=500, detail=detail, instance=scope["path"])
        await response(scope, receive, send)

    async def _cut(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = "The service is shutting down and could not finish this request; retry."
        response = problem_response(
            status=503, detail=detail, instance=scope["path"], headers={"Retry-After": "1"}
        )
        await response(scope, receive, send)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        if status < 500 and (self.sample <= 0 or random.random() >= self.sample):  # noqa: S311
            return
        access_logger.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
