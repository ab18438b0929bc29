"""What the model-service imports before it serves: the compiled runtimes' and the boosting
libraries' packages only inside the functions that need them (issue 14, item 6).

Each check runs a fresh interpreter: this test process has imported everything already.
"""

import json
import subprocess
import sys

# Imported only when a loaded model needs them, never at the service's import or app build.
LAZY = ["onnxruntime", "onnx", "skl2onnx", "onnxmltools", "xgboost", "lightgbm"]

PROBE = """
import json, sys
import model_service.__main__
from model_service.config import Settings
from model_service.main import create_app
create_app(Settings())
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _imported_at_start() -> set[str]:
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(run.stdout.splitlines()[-1]))


def test_building_the_service_imports_no_compiled_runtime_or_boosting_library() -> None:
    imported = _imported_at_start()
    assert "model_service" in imported
    assert sorted(imported & set(LAZY)) == []
