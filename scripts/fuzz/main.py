"""`make fuzz`: schemathesis, every check, over the gateway's merged `/openapi.json`.

The stack is the real one (`servir_runtime.stack`) on a copy of the demo bundles, rate limits
off. Three identities log in through `/auth/token` as the fuzzer needs them (and again when a
token stops working): `alice` and `bob`, two ordinary users the access-control check plays
against each other, and `admin`, for the operations that need more. Several seeds share the
time budget, each starting from the demo bundles alone (the fuzzer uploads, unloads and deletes
models); any failure fails the run. Reports and the services' logs land in `.build/fuzz/`.

Settings: FUZZ_SECONDS (fuzzing time, all seeds together), FUZZ_SEEDS (comma-separated),
FUZZ_WORKERS.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from auth_service.config import DEV_ADMIN_PASSWORD
from model_service.redis_keys import UNLOADED
from scripts.fuzz.hooks import BUNDLE_ENV, PROTECTED_ENV
from servir_runtime.processes import StackError
from servir_runtime.stack import ROOT, Stack

# Fuzzing time of all seeds together; with the stack's start and each seed's own, CI's
# `make fuzz` stays under 5 minutes.
BUDGET_S = int(os.environ.get("FUZZ_SECONDS", "180"))
SEEDS = [int(seed) for seed in os.environ.get("FUZZ_SEEDS", "1,2,3").split(",")]
WORKERS = os.environ.get("FUZZ_WORKERS", "1")
OUT_DIR = ROOT / ".build" / "fuzz"
MODELS = ROOT / "models"
AUTH_FILE_ENV = "SERVIR_FUZZ_AUTH_FILE"
PASSWORD = "fuzz-password-NOT-FOR-PRODUCTION"


@dataclass(frozen=True)
class Identity:
    """A user the fuzzer logs in as: its name in the auth file, its username, its scopes."""

    name: str
    username: str
    scopes: tuple[str, ...]


IDENTITIES = (
    Identity("alice", "fuzz-alice", ("models:read", "models:predict")),
    Identity("bob", "fuzz-bob", ("models:read", "models:predict")),
    Identity(
        "admin", "fuzz-admin", ("models:read", "models:predict", "models:admin", "users:admin")
    ),
)


def stack_env(store: Path) -> dict[str, str]:
    """The fuzzed stack: limits that protect a real deployment would only throttle the fuzzer.

    Rate limits off (docs/api.md); the per-IP and per-account login budgets too high and too short
    to trip, since every generated login comes from 127.0.0.1 and many name a fuzz identity.
    """
    return {
        "SERVIR_ENV": "test",
        "GATEWAY_RATE_LIMIT_ENABLED": "false",
        "AUTH_LOGIN_IP_MAX_FAILURES": "100000",
        "AUTH_LOGIN_MAX_FAILURES": "100000",
        "AUTH_LOGIN_ACCOUNT_MAX_FAILURES": "100000",
        "AUTH_LOGIN_WINDOW_SECONDS": "60",
        "MODEL_MODELS_DIR": str(store),
    }


def _request(url: str, *, data: bytes, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback URL)
        return json.load(response)


def _login(gateway: str, username: str, password: str) -> str:
    form = {"grant_type": "password", "username": username, "password": password}
    body = urllib.parse.urlencode(form).encode()
    content = {"Content-Type": "application/x-www-form-urlencoded"}
    token: str = _request(f"{gateway}/auth/token", data=body, headers=content)["access_token"]
    return token


def create_identities(gateway: str) -> None:
    """Create the fuzz users as the bootstrap admin."""
    admin = _login(gateway, "admin", DEV_ADMIN_PASSWORD)
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    for identity in IDENTITIES:
        user = {"username": identity.username, "password": PASSWORD, "scopes": identity.scopes}
        _request(f"{gateway}/auth/users", data=json.dumps(user).encode(), headers=headers)


def auth_document() -> dict[str, Any]:
    """The Web Fuzzing Commons auth file: each identity logs in with the password grant."""
    return {
        "auth": [
            {
                "name": identity.name,
                "loginEndpointAuth": {
                    "verb": "POST",
                    "endpoint": "/auth/token",
                    "contentType": "application/x-www-form-urlencoded",
                    "payloadRaw": urllib.parse.urlencode(
                        {
                            "grant_type": "password",
                            "username": identity.username,
                            "password": PASSWORD,
                        }
                    ),
                    "token": {
                        "extractFrom": "body",
                        "extractSelector": "/access_token",
                        "sendIn": "header",
                        "sendName": "Authorization",
                        "sendTemplate": "Bearer {token}",
                    },
                },
            }
            for identity in IDENTITIES
        ]
    }


def run_seed(gateway: str, seed: int, seconds: int, env: dict[str, str]) -> dict[str, Any]:
    """One schemathesis run; its JSON report."""
    report = OUT_DIR / f"seed-{seed}.json"
    report.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(ROOT / "schemathesis.toml"), "run", f"{gateway}/openapi.json",
        "--seed", str(seed), "--max-time", str(seconds),
        "--workers", WORKERS, "--no-color",
        "--report", "json,junit", "--report-dir", str(OUT_DIR),
        "--report-json-path", str(report),
        "--report-junit-path", str(OUT_DIR / f"seed-{seed}.xml"),
    ]  # fmt: skip
    print(f"== schemathesis, seed {seed}, {seconds} s", flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=False)
    if not report.exists():
        return {"seed": seed, "exit_code": -1, "failures": [], "errors": [{"title": "no report"}]}
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return result


def summary_line(result: dict[str, Any]) -> str:
    """One line per seed."""
    operations = result.get("operations") or {}
    cases = result.get("test_cases") or {}
    failures = sum(group["count"] for group in result.get("failures", []))
    errors = sum(group.get("count", 1) for group in result.get("errors", []))
    return (
        f"seed {result.get('seed')}: {operations.get('tested', 0)}/{operations.get('total', 0)} "
        f"operations, {cases.get('generated', 0)} test cases, {failures} failures, "
        f"{errors} errors, {result.get('running_time', 0):.0f} s, "
        f"exit {result.get('exit_code')}"
    )


def copy_models(store: Path) -> None:
    """The demo bundles, and nothing else, in the stack's model store."""
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(MODELS, store, ignore=shutil.ignore_patterns("README.md"))


def reset_models(stack: Stack, store: Path) -> None:
    """The model-service again, on the demo bundles alone, none of them unloaded (killed
    first: nothing of it may write to the store once it is copied anew)."""
    stack.kill("model-service")
    copy_models(store)
    with redis.Redis.from_url(stack.redis_url) as client:
        client.delete(UNLOADED)
    stack.restart_service("model-service")
    wait_for_demo_models(stack.gateway_url)


def wait_for_demo_models(gateway: str, *, timeout: float = 30.0) -> None:
    """Until the gateway's merged document lists the demo models, and none the fuzzer made."""
    # Hidden folders are the store's own (`.verified/`), never a model.
    demo = {
        f"/models/{folder.name}/predict"
        for folder in MODELS.iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
    }
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{gateway}/openapi.json", timeout=5) as response:  # noqa: S310
            paths = {path for path in json.load(response)["paths"] if path.endswith("/predict")}
        if demo <= paths and not any(path.startswith("/models/fuzz-") for path in paths):
            return
        if time.monotonic() > deadline:
            msg = f"the gateway's OpenAPI document did not come back to the demo models: {paths}"
            raise StackError(msg)
        time.sleep(0.2)


def fuzz(stack: Stack, store: Path) -> list[dict[str, Any]]:
    """Prepare the identities, then run every seed on a fresh copy of the demo bundles."""
    create_identities(stack.gateway_url)
    auth_file = stack.data_dir / "fuzz-auth.json"
    auth_file.write_text(json.dumps(auth_document(), indent=2), encoding="utf-8")
    env = {
        **os.environ,
        AUTH_FILE_ENV: str(auth_file),
        PROTECTED_ENV: ",".join(identity.username for identity in IDENTITIES),
        BUNDLE_ENV: str(MODELS / "iris" / "1"),
    }
    seconds = max(BUDGET_S // len(SEEDS), 1)
    results = []
    for index, seed in enumerate(SEEDS):
        if index:
            reset_models(stack, store)
        results.append(run_seed(stack.gateway_url, seed, seconds, env))
    return results


def main() -> int:
    """Start the stack, fuzz it, stop it; 0 only when no seed found anything."""
    if not (MODELS / "iris" / "1" / "manifest.json").exists():
        print("No demo models in models/: run `make models` first.", file=sys.stderr)
        return 2
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="servir-fuzz-") as tmp:
        store = Path(tmp) / "models"
        copy_models(store)
        stack = Stack(data_dir=Path(tmp) / "stack", env=stack_env(store))
        try:
            with stack:
                results = fuzz(stack, store)
        except StackError as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            if stack.log_dir.exists():
                shutil.copytree(stack.log_dir, OUT_DIR / "logs", dirs_exist_ok=True)
    print(f"== make fuzz: {len(results)} seeds in {time.monotonic() - started:.0f} s")
    for result in results:
        print(summary_line(result))
    failed = [r for r in results if r.get("exit_code") != 0]
    print("make fuzz: FAILED" if failed else "make fuzz: no failures")
    return 1 if failed else 0
