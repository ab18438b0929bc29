"""`make bench`'s output: the JSON document (stdout) and a compact table (stderr)."""

import sys
from typing import Any, TextIO

from scripts.bench.matrix import Plan

COLUMNS = ("req/s", "p50 ms", "p99 ms", "non2xx", "cpu ms/req", "gw ms/req")


def row(result: dict[str, Any]) -> list[str]:
    """One result's cells for the table."""
    gateway = result.get("gateway_cpu_ms_per_request")
    return [
        f"{result['requests_per_s']:.0f}",
        f"{result['p50_ms']:.2f}",
        f"{result['p99_ms']:.2f}",
        str(result["non_2xx"] + result["socket_errors"]),
        f"{result['cpu_ms_per_request']:.3f}",
        f"{gateway:.3f}" if gateway is not None else "",
    ]


def table(results: list[dict[str, Any]], extras: dict[str, Any]) -> str:
    """The results as aligned text, then the cold starts and memory."""
    labels = [r["cell"] for r in results]
    cells = [row(r) for r in results]
    width = max((len(label) for label in labels), default=4)
    sizes = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(COLUMNS)]
    lines = [
        "cell".ljust(width)
        + "  "
        + "  ".join(c.rjust(s) for c, s in zip(COLUMNS, sizes, strict=True))
    ]
    for label, values in zip(labels, cells, strict=True):
        lines.append(
            label.ljust(width)
            + "  "
            + "  ".join(v.rjust(s) for v, s in zip(values, sizes, strict=True))
        )
    for name, figures in extras.items():
        lines.append(f"{name}: {figures}")
    return "\n".join(lines)


def document(
    plan: Plan, results: list[dict[str, Any]], extras: dict[str, Any], pinned: bool
) -> dict[str, Any]:
    """The JSON `make bench` prints."""
    return {
        "tool": "wrk -t1 --latency",
        "quick": plan.quick,
        "warmup_s": plan.warmup_s,
        "duration_s": plan.duration_s,
        "repeats": plan.repeats,
        "servers_on_cpu": 0 if pinned else None,
        "wrk_on_cpu": 1 if pinned else None,
        "cpu_ms_per_request": "utime+stime of the server processes over the cell / requests",
        "results": results,
        **extras,
    }


def say(text: str, stream: TextIO = sys.stderr) -> None:
    """Progress and the table go to stderr; stdout carries the JSON alone."""
    print(text, file=stream, flush=True)
