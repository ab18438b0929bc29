"""docs/architecture.md names files by their repository paths: every one it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
CODE = re.compile(r"`([^`\s]+)`")
# A path of this repository: segments of plain characters, no leading slash (that is a URL path),
# no braces (a route pattern), no colon (a scope).
PATH = re.compile(r"^\.?[\w-]+(?:\.[\w-]+)*(?:/[\w.-]+)*/?$")
FILE_SUFFIXES = (".py", ".md", ".toml", ".yml", ".yaml", ".lock", ".sh")
# Files of the root, named alone; a module alone (`app.py`) is a name, not a path.
ROOT_FILES = frozenset({"Dockerfile", "Makefile", "LICENSE"})
ROOT_SUFFIXES = (".md", ".toml", ".yml", ".yaml", ".lock")


def named_paths(text: str) -> set[str]:
    """The backticked spans of `text` that name a file or folder of the repository: a span with
    a slash whose first segment is a top-level entry or that ends like a file or a folder, or a
    root file by its name (`Dockerfile`, `pyproject.toml`)."""
    top = {entry.name for entry in ROOT.iterdir()}
    paths = set()
    for span in CODE.findall(text):
        if not PATH.match(span):
            continue
        if "/" in span:
            if span.split("/")[0] in top or span.endswith(("/", *FILE_SUFFIXES)):
                paths.add(span)
        elif span in ROOT_FILES or span.endswith(ROOT_SUFFIXES):
            paths.add(span)
    return paths


def test_the_doc_names_paths() -> None:
    """The check below checks something: the doc names the packages by their folders."""
    assert {"gateway/", "model-service/", "shared-schemas/"} <= named_paths(DOC.read_text())


def test_every_path_the_doc_names_exists() -> None:
    missing = sorted(path for path in named_paths(DOC.read_text()) if not (ROOT / path).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
