"""`save_model`: a fitted model and a sample of its input become a bundle folder (the model
file and manifest.json) that the service loads and serves as the model answers in memory.

A scikit-learn model is written with skops (model.skops); an XGBoost or LightGBM one in its
library's own format (boosting.py)."""

import hashlib
from pathlib import Path
from typing import Any

import skops.io as sio
from pydantic import ValidationError
from sklearn.base import is_classifier

from servir.bundle import boosting
from servir.bundle.examples import build_examples
from servir.bundle.features import Bounds, build_features
from servir.bundle.folder import MANIFEST, check_target, publish, staging
from servir.bundle.parity import check_parity
from servir.bundle.predictions import Answers, answer
from servir.bundle.sample import Sample, prepare
from servir.bundle.stats import reference_stats, training_stats
from servir.bundle.values import label, wire_rows
from servir.errors import BundleError
from shared_schemas.manifest import FeatureSpec, Flavor, Manifest, Scalar, Task

MODEL_FILE = "model.skops"
# Stands in for the model file's digest while the manifest is checked before anything is written.
DRAFT_SHA256 = "0" * 64


def save_model(
    model: Any,
    path: str | Path,
    *,
    sample: Any,
    name: str,
    version: str | None = None,
    description: str | None = None,
    reference: Any = None,
    bounds: Bounds | None = None,
    task: Task | None = None,
    examples: int = 5,
    overwrite: bool = False,
) -> Path:
    """Write `model` as a bundle in the folder `path` (its model file, manifest.json); return it.

    `sample` (a DataFrame or a 2-D ndarray) gives the features, the examples and the rows the
    saved bundle must predict as `model` does; `reference` (default: the sample) the drift
    statistics; `bounds={"column": (low, high)}` the only hard limits. BundleError says why
    not; nothing is left at `path` then.
    """
    target = Path(path)
    check_target(target, overwrite=overwrite)
    flavor = boosting.flavor_of(model)
    given, features, rows, expected = _inspect(model, flavor, sample, bounds)
    draft = {
        **_format(flavor),
        "name": name,
        "version": "1" if version is None else version,
        "task": task or _task(model),
        "description": description or "",
        "input_format": given.input_format,
        "features": features,
        "classes": _classes(model),
        **_statistics(model, flavor, reference, given, features),
        "examples": build_examples(rows, expected, examples),
    }
    _validated({**draft, "sha256": DRAFT_SHA256})
    _ship(target, model, draft, rows, expected)
    return target


def _format(flavor: Flavor) -> dict[str, str]:
    """The manifest's flavor and the name of its model file."""
    return {
        "flavor": flavor,
        "model_file": MODEL_FILE if flavor == "sklearn" else boosting.FILES[flavor],
    }


def _inspect(
    model: Any, flavor: Flavor, sample: Any, bounds: Bounds | None
) -> tuple[Sample, list[FeatureSpec], list[dict[str, Scalar]], Answers]:
    """The checked sample, its features, its rows as requests carry them, the model's answers."""
    if not callable(getattr(model, "predict", None)):
        raise BundleError(f"{type(model).__name__} has no predict method: it cannot serve")
    given = _prepared(model, flavor, sample, "sample")
    features = build_features(model, given, bounds)
    return given, features, wire_rows(given.frame, features), _predict(model, given)


def _ship(
    target: Path,
    model: Any,
    draft: dict[str, Any],
    rows: list[dict[str, Scalar]],
    expected: Answers,
) -> None:
    """Write the bundle beside `target`, check it, and only then move it there."""
    with staging(target) as folder:
        _write(folder, model, draft)
        # The manifest as written, read back as the service reads it.
        manifest = Manifest.model_validate_json((folder / MANIFEST).read_bytes())
        check_parity(folder, manifest, rows, expected)
        publish(folder, target)


def _predict(model: Any, given: Sample) -> Answers:
    try:
        return answer(model, given.model_input, len(given.frame))
    except BundleError:
        raise
    except Exception as exc:  # the caller's model, on the caller's own sample
        raise BundleError(
            f"the model cannot predict the sample: {type(exc).__name__}: {exc}"
        ) from exc


def _prepared(model: Any, flavor: Flavor, data: Any, role: str) -> Sample:
    if flavor == "sklearn":
        return prepare(model, data, role)
    prepared = prepare(boosting.sample_view(model, flavor), data, role)
    return boosting.checked_sample(model, flavor, prepared, named=hasattr(data, "columns"))


def _statistics(
    model: Any, flavor: Flavor, reference: Any, given: Sample, features: list[FeatureSpec]
) -> dict[str, Any]:
    """The manifest's training and reference statistics, of `reference` (else the sample)."""
    known = given if reference is None else _reference(model, flavor, reference, given)
    return {
        "training_stats": training_stats(features, known.frame),
        "reference": reference_stats(features, known.frame),
    }


def _reference(model: Any, flavor: Flavor, data: Any, given: Sample) -> Sample:
    known = _prepared(model, flavor, data, "reference")
    for column, ours, theirs in zip(given.frame.columns, given.types, known.types, strict=True):
        if ours != theirs:
            raise BundleError(f"the reference's {column!r} is a {theirs}, the sample's a {ours}")
    return known


def _task(model: Any) -> Task:
    try:
        return "classification" if is_classifier(model) else "regression"
    except AttributeError:  # not a scikit-learn estimator: a classifier has classes
        return "classification" if hasattr(model, "classes_") else "regression"


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    return None if classes is None else [label(value) for value in list(classes)]


def _validated(body: dict[str, Any]) -> Manifest:
    try:
        return Manifest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleError(f"the manifest would be invalid at {where}: {first['msg']}") from None


def _write(folder: Path, model: Any, draft: dict[str, Any]) -> None:
    """The model file, then the manifest naming its digest and the types it needs trusted."""
    if draft["flavor"] == "sklearn":
        model_path = folder / MODEL_FILE
        sio.dump(model, model_path)
        trusted = sio.get_untrusted_types(file=model_path)
    else:
        model_path = folder / boosting.write_model(folder, model, draft["flavor"])
        trusted = []
    manifest = _validated(
        {
            **draft,
            "model_file": model_path.name,
            "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
            "trusted_types": trusted,
        }
    )
    text = manifest.model_dump_json(indent=2, exclude_none=True)
    (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")
