"""XGBoost and LightGBM models as ONNX graphs (onnxmltools), for onnxruntime to serve.

The graph takes one float32 input, "X" [None, n_features]. A classifier answers "label" (the
manifest's class, as the estimator's `predict` does, not the booster's class position) and
"probabilities" [None, n_classes], a plain tensor (no ZipMap); a regressor answers "variable"
[None, 1]. Whether it answers as the booster does is for the caller to check (parity).
"""

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_service.flavors.model import BoostedClassifier, BoostedModel, ConversionError
from shared_schemas.manifest import Manifest

# Gather, which maps a class position to its label, is in every opset; 13 where none is set.
DEFAULT_OPSET = 13


def convert(estimator: BoostedModel, manifest: Manifest) -> onnx.ModelProto:
    """`estimator` (from load_model) as an ONNX graph; ConversionError says why not."""
    # onnxmltools ships no type information.
    from onnxmltools import (  # type: ignore[import-untyped]  # noqa: PLC0415
        convert_lightgbm,
        convert_xgboost,
    )
    from onnxmltools.convert.common.data_types import (  # type: ignore[import-untyped]  # noqa: PLC0415
        FloatTensorType,
    )

    model: onnx.ModelProto
    initial = [("X", FloatTensorType([None, estimator.n_features_in_]))]
    try:
        if estimator.flavor == "xgboost":
            model = convert_xgboost(_used_trees(estimator.booster), initial_types=initial)
        else:
            model = convert_lightgbm(estimator.booster, initial_types=initial, zipmap=False)
    except Exception as exc:  # onnxmltools raises many kinds for what it does not support
        raise ConversionError(
            f"onnxmltools cannot convert this {estimator.flavor} model: "
            f"{type(exc).__name__}: {exc}"[:300]
        ) from None
    if isinstance(estimator, BoostedClassifier):
        _labels_as_classes(model, list(manifest.classes or []))
    onnx.checker.check_model(model)
    return model


def _used_trees(booster: Any) -> Any:
    """An early-stopped XGBoost model's trees up to its best iteration (what it predicts with)."""
    best = booster.attr("best_iteration")
    return booster if best is None else booster[: int(best) + 1]


def _class_values(classes: list[Any]) -> np.ndarray:
    if classes and all(isinstance(value, str) for value in classes):
        return np.array(classes, dtype=object)
    if classes and all(isinstance(value, int) and not isinstance(value, bool) for value in classes):
        return np.array(classes, dtype=np.int64)
    raise ConversionError("the classes must be all integers or all strings to convert")


def _labels_as_classes(model: onnx.ModelProto, classes: list[Any]) -> None:
    """The converter's label is the class position: gather the manifest's label from it."""
    values = _class_values(classes)
    graph = model.graph
    label = graph.output[0].name
    position = f"{label}_position"
    for node in graph.node:
        node.output[:] = [position if name == label else name for name in node.output]
    graph.initializer.append(numpy_helper.from_array(values, name="classes"))
    graph.node.append(helper.make_node("Gather", ["classes", position], [label], axis=0))
    kind = TensorProto.STRING if values.dtype == object else TensorProto.INT64
    graph.output[0].CopyFrom(helper.make_tensor_value_info(label, kind, [None]))
    if not any(entry.domain in {"", "ai.onnx"} for entry in model.opset_import):
        model.opset_import.append(helper.make_opsetid("", DEFAULT_OPSET))
