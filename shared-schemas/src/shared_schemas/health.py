"""Liveness and readiness bodies, shared by every service."""

from typing import Literal

from shared_schemas.base import Contract

CHECK_OK = "ok"
MODEL_READY = "ready"

ReadinessStatus = Literal["ready", "degraded", "not_ready"]


class Liveness(Contract):
    """`GET /livez`: the process answers; no dependency is checked."""

    status: Literal["ok"] = "ok"


class Readiness(Contract):
    """`GET /readyz`: each dependency `ok` or a short reason, and the overall state."""

    status: ReadinessStatus
    checks: dict[str, str]
    models: dict[str, str] | None = None
