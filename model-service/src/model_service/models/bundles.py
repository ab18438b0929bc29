"""Loading a model bundle safely: sha256 first, the zip directory's sizes, then skops with only
vetted types, then the structural validation of what was built (validation.py).

Pickle and joblib files run arbitrary code when loaded: they are refused unless the operator
sets MODEL_ALLOW_PICKLE, and even then only with the manifest's sha256.

skops, joblib and the validators (all of scikit-learn) are imported when a model is loaded,
not with this module: a replica serving only compiled models never imports them.

This is the in-process loader. The service loads a bundle only once a child process has
loaded, validated and test-predicted it (verify.py), so a crash or a hang there costs the child.
"""

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from model_service.config import Settings
from model_service.models.ziplimits import ZipLimitError, check_zip_directory
from shared_schemas.manifest import Manifest

MANIFEST = "manifest.json"
PICKLE_FILES = frozenset({"model.joblib", "model.pkl"})


class BundleError(Exception):
    """A bundle that must not serve; the message is the reason shown in /readyz and metadata."""


@dataclass(frozen=True)
class Bundle:
    """A verified manifest and the estimator it describes."""

    manifest: Manifest
    estimator: Any
    folder: Path


def manifest_bytes(folder: Path) -> bytes:
    """The bundle's manifest.json as stored."""
    try:
        return (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BundleError("manifest.json is missing") from None


def read_manifest(folder: Path, raw: bytes | None = None) -> Manifest:
    """The bundle's manifest (`raw`, when read already), validated, and consistent with where
    it lies."""
    try:
        manifest = Manifest.model_validate_json(manifest_bytes(folder) if raw is None else raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleError(f"manifest.json is invalid at {where}: {first['msg']}") from None
    if (manifest.name, manifest.version) != (folder.parent.name, folder.name):
        found = f"{folder.parent.name}/{folder.name}"
        raise BundleError(f"manifest says {manifest.name}/{manifest.version}, folder is {found}")
    return manifest


def _verified_bytes(folder: Path, manifest: Manifest, max_bytes: int) -> bytes:
    path = folder / manifest.model_file
    if not path.is_file():
        raise BundleError(f"{manifest.model_file} is missing")
    if path.stat().st_size > max_bytes:
        raise BundleError(f"{manifest.model_file} is larger than {max_bytes} bytes")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise BundleError(f"sha256 of {manifest.model_file} does not match the manifest")
    return data


def _load_skops(data: bytes, manifest: Manifest, settings: Settings) -> Any:
    import skops.io as sio  # noqa: PLC0415 - scikit-learn only where a model loads

    try:
        # Before skops reads anything, even its list of types.
        check_zip_directory(
            data,
            max_members=settings.max_model_members,
            max_bytes=settings.max_model_unpacked_bytes,
            max_ratio=settings.max_model_ratio,
        )
    except ZipLimitError as exc:
        raise BundleError(str(exc)) from None
    untrusted = set(sio.get_untrusted_types(data=data))
    not_listed = untrusted - set(manifest.trusted_types)
    if not_listed:
        raise BundleError(
            f"untrusted types not listed in the manifest: {', '.join(sorted(not_listed))}"
        )
    not_allowed = untrusted - set(settings.allowed_types)
    if not_allowed:
        raise BundleError(
            f"types not allowed by MODEL_ALLOWED_TYPES: {', '.join(sorted(not_allowed))}"
        )
    return sio.loads(data, trusted=sorted(untrusted))


def check_files(
    folder: Path, settings: Settings, manifest_raw: bytes | None = None
) -> tuple[Manifest, bytes]:
    """The manifest and the model file's bytes, checked without loading anything (cheap and
    safe in the serving process): manifest, pickle policy, size, sha256."""
    manifest = read_manifest(folder, manifest_raw)
    if manifest.model_file in PICKLE_FILES and not settings.allow_pickle:
        raise BundleError(
            f"{manifest.model_file} is a pickle: refused unless MODEL_ALLOW_PICKLE=true"
        )
    return manifest, _verified_bytes(folder, manifest, settings.max_bundle_bytes)


def load_bundle(folder: Path, settings: Settings, *, manifest_raw: bytes | None = None) -> Bundle:
    """Check and load one bundle folder (`<name>/<version>`) in this process; BundleError says
    why not. `manifest_raw` is the manifest as read by the caller (what it verified)."""
    manifest, data = check_files(folder, settings, manifest_raw)
    if manifest.flavor != "sklearn":
        return Bundle(manifest=manifest, estimator=_load_boosted(manifest, data), folder=folder)
    try:
        if manifest.model_file in PICKLE_FILES:
            import joblib  # noqa: PLC0415 - only an operator allowing pickles pays for it

            # The operator opted in and the bytes match the manifest's sha256.
            estimator = joblib.load(io.BytesIO(data))
        else:
            estimator = _load_skops(data, manifest, settings)
    except BundleError:
        raise
    except Exception as exc:  # a corrupt file may raise anything; the service must stay up
        raise BundleError(
            f"{manifest.model_file} could not be loaded: {type(exc).__name__}"
        ) from None
    if not hasattr(estimator, "predict"):
        raise BundleError("the loaded object has no predict method")
    _validate(estimator, settings)
    return Bundle(manifest=manifest, estimator=estimator, folder=folder)


def _validate(estimator: Any, settings: Settings) -> None:
    from model_service.models.validation import (  # noqa: PLC0415 - imports scikit-learn
        StructureError,
        validate_estimator,
    )

    try:
        validate_estimator(estimator, unvalidated_types=settings.unvalidated_types)
    except StructureError as exc:
        raise BundleError(f"the model failed validation: {exc}") from None
    except Exception as exc:  # a crafted object may lack what a validator reads
        raise BundleError(f"the model failed validation: {type(exc).__name__}") from None


def _load_boosted(manifest: Manifest, data: bytes) -> Any:
    """An XGBoost or LightGBM model; its trees are checked there (flavors/trees.py), so the
    scikit-learn validators, which know none of its types, are not asked."""
    from model_service import flavors  # noqa: PLC0415 - only these bundles pay for it

    try:
        return flavors.load_model(manifest, data)
    except BundleError:
        raise
    except Exception as exc:  # the library's own errors on a file it cannot read
        raise BundleError(
            f"{manifest.model_file} could not be loaded: {type(exc).__name__}"
        ) from None
