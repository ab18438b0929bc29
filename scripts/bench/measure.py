"""One bench cell: wrk on CPU 1 against a URL, and the server processes' CPU time around it.

The parsing and the CPU accounting are plain functions of text (wrk's report, /proc/<pid>/stat),
so tests/test_bench.py checks them without any load.
"""

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
PINNED = (os.cpu_count() or 1) > 1 and shutil.which("taskset") is not None
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    """What wrk sends: a URL, its headers and body (None: GET), how many connections."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    connections: int = 64


@dataclass
class WrkFigures:
    """What one wrk report says."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def latency_ms(report: str, percentile: str) -> float:
    """A percentile of wrk's `--latency` distribution in ms; -1 when the report lacks it."""
    pattern = rf"^\s+{percentile}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$"
    match = re.search(pattern, report, re.MULTILINE)
    return round(float(match.group(1)) * UNITS_MS[match.group(2)], 3) if match else -1.0


def parse_wrk(report: str) -> WrkFigures:
    """wrk's text report as figures (zeros for what it does not say)."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    total = re.search(r"^\s*(\d+) requests in ", report, re.MULTILINE)
    errors = re.search(r"Socket errors:(.*)$", report, re.MULTILINE)
    return WrkFigures(
        requests=int(total.group(1)) if total else 0,
        requests_per_s=float(rps.group(1)) if rps else 0.0,
        p50_ms=latency_ms(report, "50"),
        p99_ms=latency_ms(report, "99"),
        non_2xx=sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", report)),
        socket_errors=sum(int(n) for n in re.findall(r"\w+ (\d+)", errors.group(1)))
        if errors
        else 0,
    )


def cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces, so fields are counted
    from the last ')': state is field 3, utime 14 and stime 15.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def cpu_ms(pids: list[int]) -> float:
    """The CPU time the processes have used so far, summed, in ms."""
    return (
        sum(cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) for pid in pids) * 1000 / TICKS_PER_S
    )


def rss_mib(pid: int) -> float:
    """The process's resident set (VmRSS) in MiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 1024, 1) if match else -1.0


def per_request_ms(before: float, after: float, requests: int) -> float:
    """CPU ms per request over a cell; -1 when no request completed."""
    return round((after - before) / requests, 4) if requests else -1.0


def script_lines(load: Load) -> str:
    """wrk's Lua script for a POST of the load's body."""
    body = (load.body or b"").decode()
    # A long bracket the body cannot close: one more '=' than the body's longest run of them.
    level = "=" * (max((len(m) for m in re.findall(r"=+", body)), default=0) + 1)
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [{level}[{body}]{level}]\n"
    )


def _script(load: Load, folder: Path) -> list[str]:
    if load.body is None:
        return []
    script = folder / "post.lua"
    script.write_text(script_lines(load))
    return ["-s", str(script)]


def run_wrk(load: Load, seconds: float) -> str:
    """Run wrk (one thread, on CPU 1 when pinned) and return its report."""
    with tempfile.TemporaryDirectory() as folder:
        command = ["wrk", "-t1", f"-c{load.connections}", f"-d{seconds}s", "--latency"]
        for name, value in load.headers.items():
            command += ["-H", f"{name}: {value}"]
        command += [*_script(load, Path(folder)), load.url]
        if PINNED:
            command = ["taskset", "-c", "1", *command]
        run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
        return run.stdout
