"""docs/tutorial.md runs as written against the real stack, so the docs cannot drift from the code.

Its ```python blocks whose first line is `# <file>.py` are written to a fresh folder; its
```console blocks are run there, in one shell as a reader types them (`$ ` starts a command, a
trailing `\\` continues it, variables carry over), and what each command prints must match
the lines shown under it: `...` on a line of its own stands for any number of lines, inside a
line for any text. The tutorial's gateway, http://127.0.0.1:8000, is the stack under test.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.conftest import RunningStack

pytestmark = pytest.mark.integration

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
DOC_GATEWAY = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
FILE_NAME = re.compile(r"^# ([\w.-]+\.py)\n")
COMMAND_SECONDS = 120
# Printed after each command with its exit status: where one output ends.
MARK = "@@tutorial-step-done"


@dataclass
class Command:
    """One `$ ` line (with its continuations) and the output the tutorial shows for it."""

    line: str
    shown: list[str] = field(default_factory=list)


def python_files(text: str) -> dict[str, str]:
    """`# name.py` python blocks, by file name."""
    files = {}
    for kind, body in FENCE.findall(text):
        named = FILE_NAME.match(body)
        if kind == "python" and named:
            files[named.group(1)] = body
    return files


def commands(text: str) -> list[Command]:
    """Every console command of the tutorial, in order, with its shown output."""
    found: list[Command] = []
    for kind, body in FENCE.findall(text):
        if kind != "console":
            continue
        lines = body.splitlines()
        while lines:
            line = lines.pop(0)
            if not line.startswith("$ "):
                assert found, f"output before any command: {line!r}"
                found[-1].shown.append(line)
                continue
            command = line[2:]
            while command.endswith("\\"):
                command += "\n" + lines.pop(0)
            found.append(Command(command))
    return found


def matches(shown: list[str], printed: list[str]) -> bool:
    """Whether the printed lines are those shown, `...` standing for what varies."""
    parts = []
    for line in shown:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")  # any number of whole lines
        else:
            parts.append(".*".join(map(re.escape, line.rstrip().split("..."))) + r"\n")
    text = "".join(line.rstrip() + "\n" for line in printed)
    return re.fullmatch("".join(parts), text) is not None


def run_all(steps: list[Command], folder: Path, env: dict[str, str], gateway: str) -> list[str]:
    """Run the commands in one shell, as a reader types them (variables carry over); the
    output of each, and its exit status as a last line."""
    # As a reader's shell: no pipefail (`servir ... | head` ends with SIGPIPE); what each
    # command printed is checked instead.
    script: list[str] = []
    for step in steps:
        script.append("{ " + step.line.replace(DOC_GATEWAY, gateway) + "\n} 2>&1")
        script.append(f'echo "{MARK} $?"')
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS * len(steps),
        check=False,
    )
    outputs = done.stdout.replace(gateway, DOC_GATEWAY).split(f"{MARK} ")
    assert len(outputs) == len(steps) + 1, done.stdout + done.stderr
    return outputs


def check(step: Command, status: str, printed: str) -> None:
    """The step exited 0 and printed what the tutorial shows."""
    lines = printed.splitlines()
    assert status.strip() == "0", f"$ {step.line}\nexit {status}:\n{printed}"
    assert matches(step.shown, lines), (
        f"$ {step.line}\nthe tutorial shows:\n"
        + "\n".join(step.shown)
        + "\nit printed:\n"
        + printed
    )


def test_the_tutorial_runs_as_written(stack: RunningStack, tmp_path: Path) -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    for name, body in python_files(text).items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / ".config"),
        "LANG": "C.UTF-8",
        "COLUMNS": "100",
        "SERVIR_ADMIN_PASSWORD": stack.admin_password,
    }
    steps = commands(text)
    assert len(steps) >= 8, "the tutorial lost its commands"
    chunks = run_all(steps, tmp_path, env, stack.gateway_url)
    # Each chunk after the first starts with the exit status of the step before it.
    printed = [chunks[0], *(chunk.partition("\n")[2] for chunk in chunks[1:-1])]
    statuses = [chunk.partition("\n")[0] for chunk in chunks[1:]]
    for step, status, output in zip(steps, statuses, printed, strict=True):
        check(step, status, output)
