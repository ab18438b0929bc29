"""XGBoost and LightGBM models converted to ONNX answer as the booster does on fresh rows:
labels identical (the manifest's classes), probabilities within 1e-4."""

from typing import Any

import numpy as np
import onnx
import onnxruntime  # type: ignore[import-untyped]
import pytest

from model_service.flavors import BoostedClassifier, ConversionError, load_model, to_onnx
from shared_schemas.manifest import Manifest
from tests.model_service import flavor_models as fm

PROBABILITY_TOLERANCE = 1e-4


def loaded(name: str) -> tuple[Manifest, Any, np.ndarray]:
    """The manifest, the loaded model and fresh rows for one of the test models."""
    if name.startswith("xgb"):
        model = (
            fm.xgb_regressor()
            if name == "xgb-regressor"
            else fm.xgb_classifier(name == "xgb-binary")
        )
        data, flavor = fm.xgb_bytes(model), "xgboost"
    else:
        model = (
            fm.lgb_regressor()
            if name == "lgb-regressor"
            else fm.lgb_classifier(name == "lgb-binary")
        )
        data, flavor = fm.lgb_bytes(model), "lightgbm"
    regression = name.endswith("regressor")
    classes = (
        None if regression else [str(c) if flavor == "lightgbm" else int(c) for c in model.classes_]
    )
    training = fm.diabetes()[0] if regression else fm.iris()[0]
    manifest = fm.manifest(flavor, data, training.shape[1], classes)
    return manifest, load_model(manifest, data), fm.fresh_rows(training, count=2000)


def session(model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


@pytest.mark.parametrize("name", ["xgb-multi", "xgb-binary", "lgb-multi", "lgb-binary"])
def test_a_converted_classifier_answers_as_the_booster(name: str) -> None:
    manifest, model, rows = loaded(name)
    assert isinstance(model, BoostedClassifier)
    graph = to_onnx(model, manifest)
    assert [i.name for i in graph.graph.input] == ["X"]
    labels, probabilities = session(graph).run(
        ["label", "probabilities"], {"X": rows.astype(np.float32)}
    )
    assert labels.tolist() == model.predict(rows).tolist()
    difference = np.abs(probabilities - model.predict_proba(rows)).max()
    assert difference <= PROBABILITY_TOLERANCE, difference


@pytest.mark.parametrize("name", ["xgb-regressor", "lgb-regressor"])
def test_a_converted_regressor_answers_as_the_booster(name: str) -> None:
    manifest, model, rows = loaded(name)
    (predictions,) = session(to_onnx(model, manifest)).run(
        ["variable"], {"X": rows.astype(np.float32)}
    )
    assert np.allclose(predictions.ravel(), model.predict(rows), rtol=1e-5, atol=1e-3)


def test_classes_that_onnx_cannot_carry_are_a_conversion_error() -> None:
    manifest, model, _ = loaded("xgb-binary")
    floats = manifest.model_copy(update={"classes": [0.5, 1.5]})
    with pytest.raises(ConversionError, match="all integers or all strings"):
        to_onnx(model, floats)
