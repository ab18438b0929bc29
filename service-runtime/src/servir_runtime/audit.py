"""One structured audit line per admin action: who, what, target, when, request id."""

import logging
import time

from servir_runtime.context import request_id_var

logger = logging.getLogger("servir.audit")


def audit(*, actor: str, action: str, target: str, **details: object) -> None:
    """Log an admin action as one structured line."""
    logger.info(
        "audit",
        extra={
            "actor": actor,
            "action": action,
            "target": target,
            "at": time.time(),
            "request_id": request_id_var.get(),
            **details,
        },
    )
