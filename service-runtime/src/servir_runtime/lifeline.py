"""Tie the development stack's processes to the life of whatever started them (Linux).

`make run` runs the launcher as make's child. Ctrl-C in a terminal signals the whole
foreground process group, launcher included; but a SIGINT sent to make alone (a tool that
signals only the process it started) is not passed on: GNU make blocks the signal, resets its
handler and waits for its recipe to end, so the stack would run on, with make stuck waiting.
A launcher killed outright (SIGKILL, the OOM killer) cannot stop its children either. So:

- `watch_parent` notices a parent that is gone, or that is stopping: it blocks SIGINT, SIGTERM
  or SIGHUP while it waits for us, as make does once signalled;
- `die_with_parent`, run in each child before it execs, has the kernel signal the child when
  the launcher dies (PR_SET_PDEATHSIG).
"""

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_STOP_MASK = sum(1 << (signum - 1) for signum in STOP_SIGNALS)
# Loaded before any fork: the child, between fork and exec, only calls it.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent(signum: int, parent: int) -> None:
    """In a child between fork and exec: receive `signum` when `parent` dies (Linux only).

    The kernel ties this to the thread that forked, so spawn from the main thread only.
    """
    if _LIBC is None:
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was in place
        os.kill(os.getpid(), signum)


def _blocked_stop_signals(pid: int) -> int | None:
    """The stop signals `pid` blocks now (a bit mask), or None when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16) & _STOP_MASK
    return None


def _parent_stopping(parent: int, usual: int) -> bool:
    """Whether `parent` is gone, or blocks a stop signal it did not block at first."""
    if os.getppid() != parent:
        return True
    blocked = _blocked_stop_signals(parent)
    return blocked is not None and blocked & ~usual != 0


def watch_parent(on_stop: Callable[[], None], *, interval: float = 0.2) -> threading.Thread:
    """Call `on_stop` once, from a daemon thread, when this process's parent dies or starts
    stopping. A block seen twice in a row counts: a parent may block a signal for an instant
    (around a fork, say) without stopping."""
    parent = os.getppid()
    usual = _blocked_stop_signals(parent) or 0

    def watch() -> None:
        seen = False
        while True:
            time.sleep(interval)
            stopping = _parent_stopping(parent, usual)
            if stopping and (seen or os.getppid() != parent):
                on_stop()
                return
            seen = stopping

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread
