"""`make run`: the whole stack as local processes until Ctrl-C."""

import os
import signal
import sys
import time
from functools import partial
from pathlib import Path
from types import FrameType

from auth_service.config import Settings as AuthSettings
from servir_runtime.lifeline import STOP_SIGNALS, watch_parent
from servir_runtime.processes import HOST, StackError, port_taken
from servir_runtime.stack import ROOT, Stack


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# Each fixed port of the stack, by the setting that moves it, and its default (0: any free one).
PORTS = (
    ("GATEWAY_PORT", 8000),
    ("GATEWAY_METRICS_PORT", 9000),
    ("AUTH_PORT", 8001),
    ("MODEL_PORT", 8002),
    ("SERVIR_REDIS_PORT", 0),
)


def _taken_port() -> str | None:
    """One line naming the first port something else holds, before anything starts."""
    for setting, default in PORTS:
        port = _port(setting, default)
        if port_taken(port):
            return (
                f"Port {port} ({setting}) is already in use: stop what listens there, "
                f"or set {setting} to a free port."
            )
    return None


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


# STOP_SIGNALS has SIGHUP too: a closed terminal must not leave the stack running without its
# launcher.
_stopping = False


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Once only: a second Ctrl-C (or SIGTERM) must not cut the clean-up short, or Redis,
    # stopped last, would be left running.
    if not _stopping:
        _stop()
        raise KeyboardInterrupt


def _stop() -> None:
    global _stopping  # noqa: PLW0603 (the signal handler's state)
    _stopping = True


def main() -> int:
    """Start the stack, print where it is, and keep it up until interrupted."""
    if (taken := _taken_port()) is not None:
        print(taken, file=sys.stderr)
        return 1
    data_dir = Path(os.environ.get("SERVIR_DATA_DIR", ROOT / ".data"))
    stack = Stack(
        data_dir=data_dir,
        gateway_port=_port("GATEWAY_PORT", 8000),
        auth_port=_port("AUTH_PORT", 8001),
        model_port=_port("MODEL_PORT", 8002),
        redis_port=_port("SERVIR_REDIS_PORT", 0),
        metrics_port=_port("GATEWAY_METRICS_PORT", 9000),
        progress=partial(print, flush=True),  # each step as it happens: a start takes seconds
    )
    # Explicit for SIGINT too: a shell that starts us in the background ignores it by default.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_on_signal)
    # make, signalled alone, waits for us without passing the signal on (lifeline.py).
    watch_parent(partial(os.kill, os.getpid(), signal.SIGTERM))
    try:
        stack.start()
        admin = AuthSettings()
        print(f"Logs: {_shown(stack.log_dir)}/  Redis: {stack.redis_url}  Stop: Ctrl-C")
        print(f"Servir gateway: {stack.gateway_url}  (docs: /docs)")
        print(f"Gateway metrics: http://{HOST}:{stack.metrics_port}/metrics")
        print(f"Admin: {admin.admin_username} / {admin.admin_password.get_secret_value()}")
        sys.stdout.flush()
        while (failed := stack.failed()) is None:
            time.sleep(0.5)
        _stop()
        print(f"{failed.name} stopped unexpectedly:\n{failed.log_tail()}", file=sys.stderr)
        return 1
    except StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Servir...")
        return 0
    finally:
        _stop()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
