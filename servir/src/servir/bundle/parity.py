"""The saved bundle, loaded back as the service loads it, must answer the sample as the model
in memory does: a feature order, a dtype or a state lost on the way shows up here, before the
bundle ships, instead of as wrong predictions in production."""

import hashlib
import json
from pathlib import Path
from typing import Any

import skops.io as sio

from servir.bundle import boosting
from servir.bundle.predictions import Answers, answer, first_difference
from servir.bundle.service_input import service_input
from servir.errors import BundleError
from shared_schemas.manifest import Manifest, Scalar

MAX_MESSAGE = 500


def check_parity(
    folder: Path, manifest: Manifest, rows: list[dict[str, Scalar]], expected: Answers
) -> None:
    """Load `folder`'s model with exactly the manifest's trusted types, predict `rows` as the
    service builds them, and compare with `expected`; BundleError names the first difference."""
    loaded = load_model(folder, manifest)
    # The rows as a request carries them: through JSON, as the service reads them.
    sent = json.loads(json.dumps(rows))
    given = service_input(manifest.features, manifest.input_format, sent)
    try:
        found = answer(loaded, given, len(rows))
    except BundleError:
        raise
    except Exception as exc:  # whatever the model raises is the reason the bundle fails
        raise BundleError(
            _clip(
                "the saved model cannot predict the sample as the service hands it rows "
                f"({manifest.input_format}): {type(exc).__name__}: {exc}"
            )
        ) from None
    row = first_difference(expected, found, manifest.task)
    if row is not None:
        raise BundleError(_clip(_difference(row, rows[row], expected, found)))


def load_model(folder: Path, manifest: Manifest) -> Any:
    """The model file, checked against the manifest's sha256 and loaded by skops trusting the
    manifest's types and nothing more (an XGBoost or LightGBM file: by its own library)."""
    data = (folder / manifest.model_file).read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise BundleError(f"{manifest.model_file} changed while it was being saved")
    try:
        if manifest.flavor != "sklearn":
            return boosting.reload(data, manifest)
        return sio.loads(data, trusted=manifest.trusted_types)
    except Exception as exc:  # skops (or a library) raises many kinds on a file it cannot read
        raise BundleError(
            _clip(f"the saved model cannot be loaded back: {type(exc).__name__}: {exc}")
        ) from None


def _difference(row: int, inputs: dict[str, Scalar], expected: Answers, found: Answers) -> str:
    want: object = expected.labels[row]
    got: object = found.labels[row]
    what = "prediction"
    if want == got and expected.probabilities is not None and found.probabilities is not None:
        want = expected.probabilities[row].round(6).tolist()
        got = found.probabilities[row].round(6).tolist()
        what = "probabilities"
    return (
        f"the saved model answers otherwise than the model in memory, first at sample row "
        f"{row} {inputs}: {what} {want!r} in memory, {got!r} once loaded as the service loads "
        "it; nothing was written"
    )


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
