"""The stack launcher behind `make run` and the integration tests."""

from pathlib import Path

import pytest

from servir_stack import Stack, StackError


def test_failed_start_reports_the_service_log_and_stops_everything(tmp_path: Path) -> None:
    # Production refuses the development internal token: the first service exits at once.
    stack = Stack(data_dir=tmp_path, env={"SERVIR_ENV": "production"})
    with pytest.raises(StackError) as failure:
        stack.start(timeout=30)
    message = str(failure.value)
    assert "auth-service exited" in message
    assert "SERVIR_INTERNAL_TOKEN must be set" in message
    assert stack.processes == []
