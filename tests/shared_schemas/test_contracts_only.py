"""The wire contracts stand alone: a client that wants them pulls pydantic and nothing of the
services' runtime (FastAPI, uvicorn, redis)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "shared-schemas" / "src" / "shared_schemas"
ALLOWED = {"shared_schemas", "pydantic", "pydantic_core", "typing_extensions", "annotated_types"}


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_contracts_import_only_pydantic_and_the_standard_library() -> None:
    foreign = {
        f"{path.relative_to(CONTRACTS)}: {name}"
        for path in CONTRACTS.rglob("*.py")
        for name in _top_level_imports(path)
        if name not in ALLOWED and name not in sys.stdlib_module_names
    }
    assert not foreign


def test_importing_every_contract_loads_no_service_runtime() -> None:
    modules = sorted(
        "shared_schemas." + path.stem for path in CONTRACTS.glob("*.py") if path.stem != "__init__"
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted({'fastapi', 'starlette', 'uvicorn', 'redis'} & set(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]"
