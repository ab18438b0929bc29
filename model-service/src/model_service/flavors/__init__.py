"""XGBoost and LightGBM bundles, in their own formats (XGBoost JSON or UBJSON, LightGBM text;
never pickle): loaded, checked against the manifest, served through an estimator-like object,
and converted to ONNX where onnxmltools can.

The libraries are imported only when a bundle of theirs loads. Their parsers are native code:
the service loads a bundle here only in its verifying child process first (verify.py), and each
model's trees are checked before anything predicts with them (trees.py).
"""

from typing import Any

from model_service.flavors.contract import check_inputs
from model_service.flavors.model import (
    BoostedClassifier,
    BoostedModel,
    BoostedRegressor,
    ConversionError,
)
from model_service.models import bundles
from shared_schemas.manifest import Manifest

__all__ = [
    "BoostedClassifier",
    "BoostedModel",
    "BoostedRegressor",
    "ConversionError",
    "load_model",
    "to_onnx",
]


def load_model(manifest: Manifest, data: bytes, *, threads: int = 1) -> BoostedModel:
    """The model of an xgboost or lightgbm bundle from its file's bytes (sha256 and size already
    checked), with `threads` for the library's own prediction threads; BundleError says why it
    must not serve."""
    check_inputs(manifest)
    if manifest.flavor == "xgboost":
        from model_service.flavors.xgboost_model import load_xgboost  # noqa: PLC0415

        return load_xgboost(manifest, data, threads)
    if manifest.flavor == "lightgbm":
        from model_service.flavors.lightgbm_model import load_lightgbm  # noqa: PLC0415

        return load_lightgbm(manifest, data, threads)
    raise bundles.BundleError(f"the {manifest.flavor} flavor is not loaded here")


def to_onnx(estimator: BoostedModel, manifest: Manifest) -> Any:
    """An onnx.ModelProto computing what `estimator` does (see onnx_export.py);
    ConversionError says why not."""
    from model_service.flavors.onnx_export import convert  # noqa: PLC0415

    return convert(estimator, manifest)
