"""The services' JSON logs: every line one object, Python's warnings included."""

import json
import subprocess
import sys
import textwrap

# A service process as the launcher runs it: the shared logging setup, then a library that
# warns (as scikit-learn's InconsistentVersionWarning does when a model loads), twice.
SERVICE = textwrap.dedent(
    """
    import warnings
    from servir_runtime.logs import configure_logging

    class InconsistentVersionWarning(UserWarning):
        pass

    configure_logging(service="model-service", level="info")
    for _ in range(2):
        warnings.warn("Trying to unpickle from version 1.5", InconsistentVersionWarning)
    warnings.warn("old API", DeprecationWarning)
    """
)


def test_python_warnings_are_json_log_records_once_each() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVICE],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=True,
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]  # raw text fails here
    assert [(r["msg"], r["category"], r["level"]) for r in records] == [
        ("Trying to unpickle from version 1.5", "InconsistentVersionWarning", "warning"),
        ("old API", "DeprecationWarning", "warning"),
    ]
    assert all(r["service"] == "model-service" and r["logger"] == "py.warnings" for r in records)
    assert records[0]["source"].startswith("<string>:")
