"""What an XGBoost or LightGBM model must agree on with its manifest before it serves."""

from model_service.models import bundles
from shared_schemas.manifest import Manifest, Task


def check_inputs(manifest: Manifest) -> None:
    """These flavors take rows as a float64 array of numbers, in feature order."""
    name = manifest.flavor
    if manifest.input_format != "ndarray":
        raise bundles.BundleError(f"a {name} bundle takes its rows as an ndarray, not a DataFrame")
    text = [feature.name for feature in manifest.features if feature.type == "category"]
    if text:
        raise bundles.BundleError(
            f"a {name} bundle takes numbers and booleans only; category features are not "
            f"supported yet: {', '.join(text)}"
        )


def check_model(
    manifest: Manifest, *, objective: str, task: Task, classes: int, features: int
) -> None:
    """The model's task (from its objective), its classes and its features are the manifest's."""
    if task != manifest.task:
        raise bundles.BundleError(
            f"the model's objective {objective} is a {task}; the manifest says {manifest.task}"
        )
    if features != len(manifest.features):
        raise bundles.BundleError(
            f"the model takes {features} features; the manifest lists {len(manifest.features)}"
        )
    if task == "classification":
        listed = len(manifest.classes or [])
        if classes != listed:
            raise bundles.BundleError(
                f"the model has {classes} classes; the manifest lists {listed}"
            )
