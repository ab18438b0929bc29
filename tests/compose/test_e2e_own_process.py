"""`make e2e` runs the integration tests against the containers, except those that start
processes of their own (they run in `make test`): every such file is on its list."""

import re

from tests.compose.checks import ROOT

E2E = (ROOT / "scripts" / "e2e.sh").read_text()
# What a test that starts its own stack or servers uses. A test running a client as a process
# (the `servir` CLI) runs against the containers as well as any other client.
OWN_PROCESSES = re.compile(
    r"\bStack\(|\bown_stack\b|\bspawn_model_service\(|redis-server"
    r"|\"-m\", \"(?:gateway|auth_service|model_service)\b"
)


def own_process_tests() -> set[str]:
    listed = re.search(r"^OWN_PROCESS_TESTS=\(([^)]*)\)", E2E, re.MULTILINE)
    assert listed is not None
    return set(listed.group(1).split())


def test_every_integration_test_starting_its_own_processes_is_left_out_of_e2e() -> None:
    starting = {
        path.stem
        for path in (ROOT / "tests" / "integration").glob("test_*.py")
        if OWN_PROCESSES.search(path.read_text())
    }
    assert "test_faults" in starting  # the pattern still finds them
    assert starting - own_process_tests() == set()
