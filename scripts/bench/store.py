"""The bench's model store: the demo iris and breast-cancer bundles, plus a gradient-boosted
model trained here, in a temporary folder (the service records its verification passes there).

Request bodies come from each bundle's manifest: rows around its training means, inside the
training range, so every model answers 200.
"""

import json
import shutil
from pathlib import Path
from typing import Any

BOOSTED = "boosted"
MODELS = ["iris", "breast-cancer", BOOSTED]
DEMO = ["iris", "breast-cancer", "churn"]
SEED = 7


def train_boosted(store: Path) -> None:
    """A GradientBoostingClassifier (100 stages) on breast-cancer, saved as a demo bundle is."""
    import numpy as np  # noqa: PLC0415 - scikit-learn only when a store is made
    from sklearn.datasets import load_breast_cancer  # noqa: PLC0415
    from sklearn.ensemble import GradientBoostingClassifier  # noqa: PLC0415

    from model_service import demo_models  # noqa: PLC0415

    data = load_breast_cancer()
    names = [demo_models._python_name(n) for n in data.feature_names]
    labels = np.array(data.target_names)[data.target]
    model = GradientBoostingClassifier(n_estimators=100, random_state=SEED)
    model.fit(data.data, labels)
    demo_models.write_bundle(
        store,
        name=BOOSTED,
        estimator=model,
        manifest={
            "task": "classification",
            "description": "Breast cancer diagnosis (GradientBoosting, 100 stages), for the bench.",
            "features": [{"name": n, "type": "float", "min": 0.0} for n in names],
            "classes": [str(c) for c in model.classes_],
            "training_stats": {n: demo_models._stats(data.data[:, i]) for i, n in enumerate(names)},
            "examples": demo_models._examples(model, names, data.data, [0, 19]),
        },
    )


def make_store(demo: Path, store: Path, names: list[str]) -> Path:
    """Copy the named demo bundles from `demo` into `store`; train the boosted one if named."""
    store.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name == BOOSTED:
            train_boosted(store)
        else:
            shutil.copytree(demo / name, store / name)
    return store


def rows(store: Path, name: str, count: int) -> list[dict[str, Any]]:
    """`count` rows for the model: its training means, nudged by up to 0.3 std, in range."""
    manifest = json.loads((store / name / "1" / "manifest.json").read_text())
    stats = manifest["training_stats"]
    out = []
    for index in range(count):
        step = ((index % 7) - 3) / 10
        out.append(
            {
                f["name"]: round(
                    min(max(s["mean"] + step * s["std"], s["min"]), s["max"]),
                    4,
                )
                for f in manifest["features"]
                for s in [stats[f["name"]]]
            }
        )
    return out


def json_body(table: list[dict[str, Any]]) -> bytes:
    """The JSON predict route's body (and the baseline's)."""
    return json.dumps({"instances": table}).encode()


def v2_body(table: list[dict[str, Any]]) -> bytes:
    """The Open Inference Protocol's body: one FP64 input of shape [rows, features]."""
    data = [value for row in table for value in row.values()]
    tensor = {"name": "input", "shape": [len(table), len(table[0])], "datatype": "FP64"}
    return json.dumps({"inputs": [{**tensor, "data": data}]}).encode()
