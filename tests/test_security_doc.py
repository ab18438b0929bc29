"""SECURITY.md names a test for each attack it lists: every such test exists."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECURITY = (ROOT / "SECURITY.md").read_text()
# `tests/x/test_y.py::test_z`, and `::test_w` continuing the last file named before it.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(test_\w+))?`")


def referenced_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test or None) for every test SECURITY.md names, in order."""
    found: list[tuple[str, str | None]] = []
    current = ""
    for match in REFERENCE.finditer(text):
        path, name = match.groups()
        if path is None and name is None:
            continue
        current = path or current
        found.append((current, name))
    return found


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_security_md_names_tests() -> None:
    assert len(referenced_tests(SECURITY)) >= 20


def test_every_test_security_md_names_exists() -> None:
    missing = []
    for path, name in referenced_tests(SECURITY):
        file = ROOT / path
        if not file.is_file() or (name is not None and name not in defined_tests(file)):
            missing.append(f"{path}::{name}" if name else path)
    assert missing == []
