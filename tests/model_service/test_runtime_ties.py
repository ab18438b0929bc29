"""A tie between classes is answered as scikit-learn answers it: the first class. A forest of an
even number of trees ties often (25 votes to 25); onnxruntime sums the votes in float32, so its
own label output took the other class on such rows."""

import tempfile
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from model_service.config import Settings
from model_service.demo_models import write_bundle
from model_service.models.bundles import load_bundle
from model_service.runtimes.convert import to_onnx
from model_service.runtimes.onnx import OnnxRuntime


def test_ties_go_to_the_first_class_as_in_scikit_learn() -> None:
    rows = np.random.default_rng(0).uniform(0, 10, (400, 4))
    labels = np.where(rows[:, 0] + rows[:, 1] > rows[:, 2] + 2, "high", "low")
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(rows, labels)
    store = Path(tempfile.mkdtemp()) / "models"
    features = [{"name": n, "type": "float", "min": 0.0, "max": 10.0} for n in "abcd"]
    manifest = {"task": "classification", "features": features}
    folder = write_bundle(store, name="forest", estimator=forest, manifest=manifest)
    compiled = to_onnx(load_bundle(folder, Settings(models_dir=store)))
    runtime = OnnxRuntime(compiled, threads=1, has_proba=True, classes=forest.classes_.tolist())
    fresh = np.random.default_rng(1).uniform(0, 10, (5000, 4))
    expected = forest.predict_proba(fresh)
    ties = fresh[expected.max(axis=1) == 0.5]
    assert len(ties) > 10  # the case at hand: votes split evenly
    for proba in (False, True):
        predictions, _ = runtime.predict(ties, proba)
        assert predictions.tolist() == forest.predict(ties).tolist()
    predictions, probabilities = runtime.predict(fresh, True)
    assert predictions.tolist() == forest.predict(fresh).tolist()
    assert probabilities is not None
    assert np.max(np.abs(probabilities - expected)) < 1e-6
