"""`make models`: train the demo bundles from datasets scikit-learn ships (no download).

- iris: a LogisticRegression pipeline trained on the label names (answers "setosa").
- breast-cancer: a RandomForest of 100 trees.
- churn: a Pipeline with a OneHotEncoder on a small generated dataset (a category feature).
"""

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SEED = 7


def _stats(values: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _examples(model: Any, names: list[str], table: np.ndarray, rows: list[int]) -> list[Any]:
    """Rows of `table` and what the model answers for them: the service refuses the bundle
    unless the loaded model answers the same."""
    chosen = table[rows]
    predictions = model.predict(chosen).tolist()
    probabilities = model.predict_proba(chosen).tolist()
    return [
        {
            "inputs": {name: _plain(value) for name, value in zip(names, row, strict=True)},
            "prediction": prediction,
            "probabilities": probability,
        }
        for row, prediction, probability in zip(chosen, predictions, probabilities, strict=True)
    ]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _python_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def write_bundle(
    models_dir: Path, *, name: str, estimator: Any, manifest: dict[str, Any], version: str = "1"
) -> Path:
    """Save `estimator` with skops and its manifest under models/<name>/<version>/."""
    folder = models_dir / name / version
    folder.mkdir(parents=True, exist_ok=True)
    model_file = folder / "model.skops"
    sio.dump(estimator, model_file)
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    untrusted = sio.get_untrusted_types(file=model_file)
    body = {
        "name": name,
        "version": version,
        **manifest,
        "sha256": digest,
        "trusted_types": untrusted,
    }
    (folder / "manifest.json").write_text(json.dumps(body, indent=2) + "\n")
    return folder


def iris(models_dir: Path) -> None:
    data = load_iris()
    names = [_python_name(n.removesuffix(" (cm)")) for n in data.feature_names]
    labels = np.array(data.target_names)[data.target]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        data.data, labels
    )
    features = [
        {"name": n, "type": "float", "min": 0.0, "max": 100.0, "description": f"{n} in cm"}
        for n in names
    ]
    write_bundle(
        models_dir,
        name="iris",
        estimator=model,
        manifest={
            "task": "classification",
            "description": "Iris species from sepal and petal sizes (LogisticRegression).",
            "features": features,
            "classes": [str(c) for c in model.classes_],
            "training_stats": {n: _stats(data.data[:, i]) for i, n in enumerate(names)},
            "examples": _examples(model, names, data.data, [0, 50, 100]),
        },
    )


def breast_cancer(models_dir: Path) -> None:
    data = load_breast_cancer()
    names = [_python_name(n) for n in data.feature_names]
    labels = np.array(data.target_names)[data.target]
    model = RandomForestClassifier(n_estimators=100, random_state=SEED).fit(data.data, labels)
    write_bundle(
        models_dir,
        name="breast-cancer",
        estimator=model,
        manifest={
            "task": "classification",
            "description": "Breast cancer diagnosis, 30 measurements (RandomForest, 100 trees).",
            "features": [{"name": n, "type": "float", "min": 0.0} for n in names],
            "classes": [str(c) for c in model.classes_],
            "training_stats": {n: _stats(data.data[:, i]) for i, n in enumerate(names)},
            "examples": _examples(model, names, data.data, [0, 19]),
        },
    )


CONTRACTS = ["month-to-month", "one-year", "two-year"]
CHURN_FEATURES = ["tenure_months", "monthly_charges", "contract", "has_support"]


def churn(models_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    rows = 600
    tenure = rng.integers(0, 72, rows)
    charges = rng.uniform(20, 120, rows).round(2)
    contract = rng.choice(CONTRACTS, rows)
    support = rng.integers(0, 2, rows).astype(bool)
    risk = (contract == "month-to-month") * 1.5 + charges / 60 - tenure / 30 - support * 0.8
    labels = np.where(risk + rng.normal(0, 0.5, rows) > 0.5, "leave", "stay")
    table = np.empty((rows, 4), dtype=object)
    table[:, 0], table[:, 1], table[:, 2], table[:, 3] = tenure, charges, contract, support
    encode = ColumnTransformer(
        [("contract", OneHotEncoder(categories=[CONTRACTS], handle_unknown="error"), [2])],
        remainder="passthrough",
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000))])
    model.fit(table, labels)
    write_bundle(
        models_dir,
        name="churn",
        estimator=model,
        manifest={
            "task": "classification",
            "description": "Customer churn: tenure, charges, contract, support (OneHotEncoder).",
            "features": [
                {"name": "tenure_months", "type": "int", "min": 0, "max": 600},
                {"name": "monthly_charges", "type": "float", "min": 0.0, "max": 10000.0},
                {"name": "contract", "type": "category", "categories": CONTRACTS},
                {"name": "has_support", "type": "bool"},
            ],
            "classes": [str(c) for c in model.classes_],
            "training_stats": {
                "tenure_months": _stats(tenure.astype(float)),
                "monthly_charges": _stats(charges),
            },
            "examples": _examples(model, CHURN_FEATURES, table, [0, 1, 2]),
        },
    )


def main() -> int:
    """Train every demo bundle into models/ (or the folder given)."""
    if len(sys.argv) != 2:
        print("usage: python -m model_service.demo_models MODELS_DIR", file=sys.stderr)
        return 2
    models_dir = Path(sys.argv[1])
    for train in (iris, breast_cancer, churn):
        train(models_dir)
        print(f"trained {train.__name__.replace('_', '-')} into {models_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
