"""Swagger UI at `/docs` in a real browser (Debian's chromium driven by playwright-core): a user
authorizes with their password, tries the iris prediction and sees 200, with nothing fetched
from another host. `make browser` installs both; without them this test fails, never skips."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import USER_PASSWORD, new_user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

BROWSER_TESTS = Path(__file__).resolve().parent.parent / "browser"


def browser_tools() -> tuple[str, str]:
    """node and chromium, with playwright-core installed; else a failure saying how to get them."""
    node, chromium = shutil.which("node"), shutil.which("chromium")
    playwright = (BROWSER_TESTS / "node_modules" / "playwright-core").is_dir()
    if node is None or chromium is None or not playwright:
        found = {"node": node, "chromium": chromium, "tests/browser/node_modules": playwright}
        missing = ", ".join(name for name, there in found.items() if not there)
        pytest.fail(f"missing {missing}: run `make browser`")
    return node, chromium


def test_a_user_authorizes_and_predicts_from_docs(
    gateway: httpx.Client, stack: RunningStack, tmp_path: Path
) -> None:
    node, chromium = browser_tools()
    username, _ = new_user(gateway, stack, "docs")
    screenshot = tmp_path / "docs.png"
    env = {
        **os.environ,
        "SERVIR_URL": stack.gateway_url,
        "SERVIR_USERNAME": username,
        "SERVIR_PASSWORD": USER_PASSWORD,
        "CHROMIUM": chromium,
        "SCREENSHOT": str(screenshot),
    }
    run = subprocess.run(
        [node, "docs.mjs"],
        cwd=BROWSER_TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # docs.mjs reports what it saw: the asserts below say what went wrong
    )
    assert run.stdout.strip(), f"docs.mjs printed nothing:\n{run.stderr}"
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    context = f"{seen} (page: {screenshot})"
    assert seen.get("error") is None, context
    assert seen["token"] == 200, context
    assert seen["status"] == "200", context
    assert json.loads(seen["body"])["model"] == "iris", context
    assert seen["elsewhere"] == [], context
    assert seen["failed"] == [], context  # every file the page asked for arrived
    assert seen["csp"] == [], context
    assert run.returncode == 0, run.stderr
