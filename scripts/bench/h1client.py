"""The proxy's HTTP client, measured: `gateway.transport.h1client.H1Pool` against httpx over
httpx's own pool (httpcore), on a uvicorn app (uvloop, httptools) in a subprocess.

Prints JSON: requests/s and the client process's CPU seconds for each. Figures, not
assertions. Usage: python -m scripts.bench.h1client [requests] [concurrency] [--one-core]
(--one-core pins client and server to CPU 0, as the gateway shares one core in the benchmark;
otherwise the client runs on CPU 0 and the server on CPU 1 when there are two).
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import uvicorn
import uvloop

from gateway.transport.h1client import H1Pool
from servir_runtime.processes import HOST, free_port
from servir_runtime.stack import ROOT

REPLY = b'{"model_name":"iris","outputs":[{"name":"label","data":[0]}]}'
BODY = b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}]}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"accept", b"*/*"),
    (b"x-request-id", b"0f2c1d6e9a7b4c3d"),
    (b"x-servir-internal-token", b"dev-internal-token-for-bench"),
    (b"x-servir-principal", b"alice"),
    (b"x-servir-scopes", b"models:read models:predict"),
]
PATH = "/v2/models/iris/infer"
WARMUP = 1000

Send = Callable[[], Awaitable[bytes]]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A fixed small JSON reply, so the client's cost shows."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(REPLY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": REPLY})


def serve(port: int) -> None:
    """The upstream, as production runs services."""
    uvicorn.run(app, host=HOST, port=port, loop="uvloop", http="httptools", log_level="warning")


def start_server(port: int, cpu: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "scripts.bench.h1client", "--serve", str(port)]
    server = subprocess.Popen(command, cwd=ROOT)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server.pid, {cpu})
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def run(send: Send, requests: int, concurrency: int) -> dict[str, float]:
    """Warm up, then `requests` requests from `concurrency` workers: rate and client CPU."""

    async def worker(count: int) -> None:
        for _ in range(count):
            assert await send() == REPLY

    await asyncio.gather(*(worker(WARMUP // concurrency) for _ in range(concurrency)))
    share, extra = divmod(requests, concurrency)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "requests_per_s": round(requests / wall),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_request": round(cpu / requests * 1e6, 1),
    }


async def measure(port: int, requests: int, concurrency: int) -> dict[str, dict[str, float]]:
    pool = H1Pool(HOST, port, max_connections=64, connect_timeout=5)

    async def via_pool() -> bytes:
        return (await pool.request("POST", PATH, HEADERS, BODY, timeout=5)).body

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    client = httpx.AsyncClient(limits=limits, timeout=5)
    base = f"http://{HOST}:{port}"

    async def via_httpx() -> bytes:  # as gateway.upstreams.upstream.Upstream.forward sends
        request = client.build_request("POST", base + PATH, headers=HEADERS, content=BODY)
        return (await client.send(request)).content

    try:
        return {
            "h1pool": await run(via_pool, requests, concurrency),
            "httpx": await run(via_httpx, requests, concurrency),
        }
    finally:
        await pool.aclose()
        await client.aclose()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        serve(int(argv[1]))
        return 0
    one_core = "--one-core" in argv
    numbers = [int(arg) for arg in argv if arg.isdigit()]
    requests, concurrency = (numbers + [20_000, 32][len(numbers) :])[:2]
    two_cpus = (os.cpu_count() or 1) > 1 and not one_core
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    port = free_port()
    server = start_server(port, cpu=1 if two_cpus else 0)
    try:
        results = uvloop.run(measure(port, requests, concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    setup = {"requests": requests, "concurrency": concurrency, "one_core": not two_cpus}
    print(json.dumps(setup | results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
