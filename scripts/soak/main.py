"""`make soak`: bounded load and soak through the gateway; prints JSON, exits 1 on a failure.

Open-loop mixed traffic (scripts/soak/load.py), phase after phase: a warm-up; `SOAK_RATE`
(100 req/s) for `SOAK_STEADY_SECONDS` (60); `SOAK_OVERLOAD_FACTOR` (3) times the sustainable
rate for `SOAK_OVERLOAD_SECONDS` (30); the steady rate again for
`SOAK_RECOVERY_SECONDS` (15), right after the overload. The sustainable rate is the steady
rate (the rate the issue asks the stack to hold), or `SOAK_SUSTAINABLE_RATE`, or, with
`SOAK_PROBE=1`, measured by a short ramp after the steady phase (scripts/soak/probe.py).
Criteria: the steady phase answers
only 2xx with p99 <= 250 ms and no service grows by 50 MB; from the overload on, every answer
that is not 2xx is a 429 or 503 and nothing times out at the client (5 s); within 10 s of the
overload's end the rest of the run is all 2xx with p99 <= 250 ms. CI runs it shorter
(`SOAK_*_SECONDS`, see .ci/run).

The stack (`servir_runtime.stack`) runs pinned to CPU 0 and the generator on CPU 1 when
there are two (`SOAK_PIN=0`: unpinned), as `make bench` does: the generator never starves
the services, and the services' capacity is that of one core.
"""

import asyncio
import json
import os
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import uvloop

from gateway.transport.h1client import H1Pool
from scripts.soak.client import Gateway
from scripts.soak.load import LoadGenerator, Session, Traffic
from scripts.soak.probe import Step, sustainable_rate
from scripts.soak.report import criteria, design, memory_figures, phase_figures
from scripts.soak.setup import (
    SoakSettings,
    cancer_row,
    copy_models,
    cpu_seconds,
    create_sessions,
    gateway_counters,
    password_login,
    redis_memory_mb,
    rss_mb,
    stack_env,
)
from servir_runtime.stack import Stack

PHASES = ("warmup", "steady", "overload", "recovery")
GENERATOR_LAG_MS = 50


@dataclass
class Run:
    """What one soak observed: samples, phase windows, and readings taken between phases."""

    load: LoadGenerator
    traffic: Traffic
    windows: dict[str, tuple[float, float]]
    rss: dict[str, dict[str, float]]  # at the start of each phase, and at "end"
    cpu: dict[str, tuple[dict[str, float], dict[str, float]]]  # CPU s at a phase's start, end
    redis_mb: dict[str, float]
    sustainable: float
    probe: list[Step]
    counters: dict[str, float] = field(default_factory=dict)


async def drive(stack: Stack, settings: SoakSettings, admin_password: str) -> Run:
    """Create the sessions, run every phase, read the processes in between."""
    pool = H1Pool(
        "127.0.0.1",
        stack.gateway_port,
        max_connections=settings.connections,
        connect_timeout=settings.timeout_seconds,
    )
    gateway = Gateway(pool, settings.timeout_seconds)
    try:
        sessions, password = await create_sessions(gateway, settings, admin_password)

        async def login(session: Session) -> None:
            session.access_token, session.refresh_token = await password_login(
                gateway, session.username, password, session.address
            )

        traffic = Traffic(gateway, sessions, cancer_row(), login)
        run = Run(LoadGenerator(traffic, settings.timeout_seconds), traffic, {}, {}, {}, {}, 0, [])
        await _phases(stack, settings, run)
        run.rss["end"] = rss_mb(stack)
        run.redis_mb["after"] = redis_memory_mb(stack)
        run.counters = gateway_counters(stack)
    finally:
        await pool.aclose()
    return run


async def _phases(stack: Stack, settings: SoakSettings, run: Run) -> None:
    seconds = {
        "warmup": settings.warmup_seconds,
        "steady": settings.steady_seconds,
        "overload": settings.overload_seconds,
        "recovery": settings.recovery_seconds,
    }
    for phase in PHASES:
        rate = settings.rate
        if phase == "steady":
            run.redis_mb["before"] = redis_memory_mb(stack)
        if phase == "overload":
            run.sustainable, run.probe = settings.sustainable_rate or settings.rate, []
            if settings.probe:  # measured now that the steady phase is over
                run.sustainable, run.probe = await sustainable_rate(
                    run.load,
                    start=settings.rate,
                    step_seconds=settings.probe_step_seconds,
                    p99_limit_ms=settings.p99_ms,
                )
            rate = run.sustainable * settings.overload_factor
        run.rss[phase], before = rss_mb(stack), cpu_seconds(stack)
        run.windows[phase] = await run.load.phase(phase, rate, seconds[phase])
        run.cpu[phase] = (before, cpu_seconds(stack))
        if phase == "steady":
            run.rss["steady_end"] = rss_mb(stack)
    await run.load.drain()


def cpu_shares(run: Run) -> dict[str, dict[str, float]]:
    """Cores each process used during each phase's arrivals."""
    shares = {}
    for phase, (before, after) in run.cpu.items():
        seconds = run.windows[phase][1] - run.windows[phase][0]
        shares[phase] = {name: round((after[name] - before[name]) / seconds, 2) for name in before}
    return shares


def _sustainable(
    settings: SoakSettings, run: Run, overload_statuses: dict[str, int]
) -> dict[str, Any]:
    refused = overload_statuses.get("429", 0) + overload_statuses.get("503", 0)
    return {
        "req_per_s": run.sustainable,
        "measured": bool(settings.probe),
        "probe_steps": [asdict(step) for step in run.probe],
        "overload_rate": round(run.sustainable * settings.overload_factor, 1),
        "overload_went_beyond_capacity": refused > 0,
    }


def report(settings: SoakSettings, run: Run, pinned: bool) -> dict[str, Any]:
    """The JSON of one run: figures per phase, memory, and a verdict per criterion."""
    samples = {name: [s for s in run.load.samples if s.phase == name] for name in PHASES}
    figures = {
        name: phase_figures(samples[name], run.windows[name][1] - run.windows[name][0])
        for name in PHASES
    }
    for name, shares in cpu_shares(run).items():
        figures[name]["cpu_cores"] = shares
    steady_memory = memory_figures(run.rss["steady"], run.rss["steady_end"])
    verdicts = criteria(
        settings,
        samples=samples,
        steady_memory=steady_memory,
        overload_end=run.windows["overload"][1],
    )
    return {
        "design": design(settings, pinned),
        "settings": asdict(settings),
        "sustainable_rate": _sustainable(settings, run, figures["overload"]["by_status"]),
        "phases": figures,
        "memory_mb": {
            "steady": steady_memory,
            "whole_run": memory_figures(run.rss["steady"], run.rss["end"]),
            "redis_used_memory": run.redis_mb,
        },
        "gateway_counters": run.counters,
        "sessions": {
            "relogins": sum(s.relogins for s in run.traffic.sessions),
            "redirected_refreshes": run.traffic.redirected_refreshes,
            "lost": run.traffic.lost_sessions,
        },
        "unexpected_answers": run.traffic.surprises,
        "criteria": verdicts,
        "pass": all(item["pass"] for item in verdicts.values()),
    }


def _stop(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so the stack's processes are stopped.
    raise KeyboardInterrupt


async def _soak(stack: Stack, settings: SoakSettings, admin_password: str) -> Run:
    # Inside the event loop a signal must cancel the run: raised from a handler, it would
    # land in whatever transport callback was running and be swallowed there.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await drive(stack, settings, admin_password)


def main() -> int:
    """Start the stack, soak it, print the JSON; 0 when every criterion passes."""
    signal.signal(signal.SIGTERM, _stop)
    settings = SoakSettings.from_env()
    pinned = bool(settings.pin and (os.cpu_count() or 1) > 1 and shutil.which("taskset"))
    admin_password = secrets.token_urlsafe(16)
    began, load_before = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="servir-soak-") as folder:
        models = copy_models(Path(folder) / "models")
        env = stack_env(settings, models, admin_password)
        stack = Stack(data_dir=Path(folder) / "stack", env=env, pin_cpu=0 if pinned else None)
        with stack:
            if pinned:
                os.sched_setaffinity(0, {1})
            try:
                run = uvloop.run(_soak(stack, settings, admin_password))
            except asyncio.CancelledError:
                raise KeyboardInterrupt from None
    result = report(settings, run, pinned)
    lag = max(phase["generator_lag_p99_ms"] for phase in result["phases"].values())
    result["machine"] = {
        "cpus": os.cpu_count(),
        # Latency counts from each request's due time, so a generator starved of CPU (a busy
        # shared machine) shows up as server latency: this says whether it kept its schedule.
        "generator_lag_p99_ms_worst_phase": lag,
        "generator_kept_schedule": lag <= GENERATOR_LAG_MS,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["pass"] else 1
