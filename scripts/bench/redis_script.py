"""The rate limiter's script call, measured: `gateway.transport.redis_script.ScriptClient` against
redis-py's `register_script`, on a redis-server of its own.

Prints JSON: calls/s and the client process's CPU µs per call for each. Figures, not
assertions. Usage: python -m scripts.bench.redis_script [calls] [concurrency] [--one-core]
(--one-core pins client and Redis to CPU 0, as the benchmark shares one core; otherwise the
client runs on CPU 0 and Redis on CPU 1 when there are two).
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from gateway.limits.ratelimit import SCRIPT
from gateway.transport.redis_script import ScriptClient
from servir_runtime.processes import HOST, free_port, redis_command, redis_pong

WARMUP = 2000
WINDOW_MS = 60_000

Call = Callable[[str], Awaitable[Any]]


def start_redis(port: int, data_dir: Path, cpu: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        redis_command(port=port, data_dir=data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server.pid, {cpu})
    deadline = time.monotonic() + 20
    while not redis_pong(port):
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return server


async def run(call: Call, calls: int, concurrency: int) -> dict[str, float]:
    """Warm up, then `calls` calls from `concurrency` workers: rate and client CPU."""

    async def worker(index: int, count: int) -> None:
        key = f"bench:{index}"
        for _ in range(count):
            count_now, _left = await call(key)
            assert count_now > 0

    await asyncio.gather(*(worker(i, WARMUP // concurrency) for i in range(concurrency)))
    share, extra = divmod(calls, concurrency)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i, share + (i < extra)) for i in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "calls_per_s": round(calls / wall),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_call": round(cpu / calls * 1e6, 1),
    }


async def measure(url: str, calls: int, concurrency: int) -> dict[str, dict[str, float]]:
    client = ScriptClient(url, SCRIPT, timeout=5)

    async def via_client(key: str) -> Any:
        return await client.run([key], [WINDOW_MS])

    redis = Redis.from_url(url)
    script = redis.register_script(SCRIPT)

    async def via_redis_py(key: str) -> Any:  # as gateway.limits.ratelimit.RateLimiter.check calls
        return await script(keys=[key], args=[WINDOW_MS])

    try:
        return {
            "redis_py": await run(via_redis_py, calls, concurrency),
            "script_client": await run(via_client, calls, concurrency),
        }
    finally:
        await client.aclose()
        await redis.aclose()


def main(argv: list[str]) -> int:
    one_core = "--one-core" in argv
    numbers = [int(arg) for arg in argv if arg.isdigit()]
    calls, concurrency = (numbers + [20_000, 32][len(numbers) :])[:2]
    two_cpus = (os.cpu_count() or 1) > 1 and not one_core
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_redis(port, Path(data_dir), cpu=1 if two_cpus else 0)
        try:
            results = uvloop.run(measure(f"redis://{HOST}:{port}/0", calls, concurrency))
        finally:
            server.kill()
            server.wait(timeout=10)
    setup = {"calls": calls, "concurrency": concurrency, "one_core": not two_cpus}
    print(json.dumps(setup | results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
