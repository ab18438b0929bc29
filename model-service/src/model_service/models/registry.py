"""The models this replica serves: loaded bundles by name and version, and the failed ones."""

import logging
from functools import partial
from pathlib import Path

from model_service.config import Settings
from model_service.errors import ModelUnavailable, NotFound
from model_service.metrics import ModelMetrics, TrainingRange
from model_service.models.batching import BatchQueue
from model_service.models.bundles import BundleError
from model_service.models.schemas import ModelSchemas, build_schemas
from model_service.models.verify import load_verified, verify_bundles
from model_service.models.version import ModelVersion
from model_service.models.workers import InferencePool
from model_service.repository.aliases import AliasTable
from model_service.repository.arrivals import arriving
from model_service.runtimes.choose import Chosen, choose
from shared_schemas.inference import ModelMetadata, ModelSummary
from shared_schemas.manifest import Manifest

# ModelVersion lives in version.py; the rest of the service imports it from here.
__all__ = ["READY", "ModelVersion", "Registry", "bundle_folders"]
logger = logging.getLogger("servir.models")
READY = "ready"


def _version_key(version: str) -> int:
    return int(version)


def bundle_folders(root: Path) -> list[Path]:
    """Every `<name>/<version>` folder in a model store."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith("."))


class Registry:
    """Loaded model versions by name; failures by `name/version` with their reasons."""

    def __init__(self, settings: Settings, pool: InferencePool, metrics: ModelMetrics) -> None:
        self.settings = settings
        self.pool = pool
        self.metrics = metrics
        self.models: dict[str, dict[str, ModelVersion]] = {}
        self.failures: dict[str, str] = {}
        self.aliases = AliasTable()  # the repository keeps it in step with Redis
        self.generation = 0  # moves on every change, so the OpenAPI document is rebuilt

    def bundle_folders(self) -> list[Path]:
        """Every `<name>/<version>` folder in the model store."""
        return bundle_folders(self.settings.models_dir)

    def load_all(self) -> None:
        """Load every bundle in the store; a bad one is recorded, never raised."""
        # One child verifies every bundle without a recorded pass (one Python start, not one
        # per bundle); each then loads here from its pass, or fails with the child's reason.
        # A folder still being copied is left to the repository's scans, which load it whole.
        grace = self.settings.pickup_grace_seconds
        folders = [f for f in self.bundle_folders() if not arriving(f, grace)]
        refused = verify_bundles(folders, self.settings)
        for folder in folders:
            self.load(folder.parent.name, folder.name, refused=refused.get(folder))

    def load(self, name: str, version: str, *, refused: str | None = None) -> ModelVersion | None:
        """(Re)load one version from the store, swapping it in atomically; None if it failed
        (or was `refused` by a verification already run)."""
        key = f"{name}/{version}"
        try:
            if refused is not None:
                raise BundleError(refused)
            verified = load_verified(self.settings.models_dir / name / version, self.settings)
            chosen = choose(verified, self.settings, self._schemas)
        except BundleError as exc:
            self.failures[key] = str(exc)
            self._drop(name, version)
            logger.warning("model failed to load", extra={"model": key, "reason": str(exc)})
            return None
        loaded = self._serve(chosen)
        replaced = self.models.setdefault(name, {}).get(version)
        if replaced is not None:
            self.metrics.forget_runtime(name, version, replaced.runtime.name)
        self.models[name][version] = loaded
        self.metrics.runtime_info.labels(name, version, chosen.info.name).set(1)
        self.failures.pop(key, None)
        self.generation += 1
        about = {"model": key, "runtime": chosen.info.name, "reason": chosen.info.reason}
        logger.info("model loaded", extra=about)
        return loaded

    def _schemas(self, manifest: Manifest) -> ModelSchemas:
        return build_schemas(manifest, max_rows=self.settings.max_rows)

    def _serve(self, chosen: Chosen) -> ModelVersion:
        manifest = chosen.manifest
        loaded = ModelVersion(
            manifest=manifest,
            runtime=chosen.runtime,
            schemas=chosen.schemas,
            classes=chosen.classes,
            training_range=TrainingRange.of(manifest),
            runtime_info=chosen.info,
            inline_safe=chosen.inline_safe,
            predict_seconds=chosen.predict_seconds,
        )
        wait = manifest.max_wait_ms
        loaded.queue = BatchQueue(
            loaded.predict,
            pool=self.pool,
            deadline_seconds=self.settings.inference_timeout_seconds,
            max_batch_size=manifest.max_batch_size or self.settings.max_batch_size,
            max_wait_ms=wait if wait is not None else self.settings.max_wait_ms,
            inline_allowed=loaded.may_run_inline(self.settings.inline_max_microseconds),
            inline_max_microseconds=self.settings.inline_max_microseconds,
        )
        loaded.queue.on_batch = self.metrics.batch_rows.labels(
            manifest.name, manifest.version
        ).observe
        loaded.queue.on_timeout = partial(self._timed_out, loaded)
        return loaded

    def _timed_out(self, loaded: ModelVersion) -> None:
        """Take a version whose predict overran the deadline out of service, until reloaded."""
        name, version = loaded.manifest.name, loaded.manifest.version
        self.metrics.inference_timeouts.labels(name, version).inc()
        if self.models.get(name, {}).get(version) is not loaded:
            return  # reloaded or unloaded meanwhile: the new one has its own queue
        key = f"{name}/{version}"
        deadline = self.settings.inference_timeout_seconds
        self.failures[key] = (
            f"inference overran its {deadline:g} s deadline (MODEL_INFERENCE_TIMEOUT_SECONDS); "
            "load the model again to serve it"
        )
        self._drop(name, version)
        logger.error("model taken out of service", extra={"model": key, "reason": "deadline"})

    def unload(self, name: str, version: str | None = None) -> None:
        """Stop serving a version (or every version of `name`)."""
        if name not in self.models and not any(k.startswith(f"{name}/") for k in self.failures):
            raise NotFound(f"No model named {name}.")
        versions = [version] if version is not None else list(self.models.get(name, {}))
        for each in versions:
            self._drop(name, each)
            self.failures.pop(f"{name}/{each}", None)

    def _drop(self, name: str, version: str) -> None:
        versions = self.models.get(name, {})
        dropped = versions.pop(version, None)
        if dropped is not None:
            self.generation += 1
            self.metrics.forget_runtime(name, version, dropped.runtime.name)
        if not versions:
            self.models.pop(name, None)

    def get(self, name: str, version: str | None = None) -> ModelVersion:
        """A servable version (the default when none is named); 404 or 503 otherwise."""
        versions = self.models.get(name)
        if not versions:
            self._raise_missing(name, version)
        chosen = version or self.default_version(name)
        loaded = versions.get(chosen) if versions and chosen else None
        if loaded is None and version is None:
            raise ModelUnavailable(
                f"Model {name}'s production alias points at version {chosen}, which does not "
                f"serve here; point it at a loaded one: PUT /models/{name}/aliases/production."
            )
        if loaded is None:
            self._raise_missing(name, version)
        return loaded  # type: ignore[return-value]

    def default_version(self, name: str) -> str | None:
        """The version the unversioned routes serve: the `production` alias's (loaded or not),
        else the lowest loaded."""
        # Asked on every unversioned prediction: a dict lookup, a min without an alias.
        production = self.aliases.production(name)
        if production is not None:
            return production
        return min(self.models.get(name, {}), key=_version_key, default=None)

    def _raise_missing(self, name: str, version: str | None) -> None:
        key = f"{name}/{version}" if version else None
        failed = {
            k: v
            for k, v in self.failures.items()
            if k == key or (key is None and k.startswith(f"{name}/"))
        }
        if failed:
            reasons = "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))
            raise ModelUnavailable(f"The model cannot serve: {reasons}.")
        what = f"{name} version {version}" if version else name
        raise NotFound(f"No model {what}.")

    def versions(self, name: str) -> list[str]:
        """The versions of `name` that serve, oldest first (none when it serves none)."""
        return sorted(self.models.get(name, {}), key=_version_key)

    def summaries(self) -> list[ModelSummary]:
        """`GET /models`."""
        return [self._summary(name) for name in sorted(self.models)]

    def _summary(self, name: str) -> ModelSummary:
        versions, default = self.versions(name), self.default_version(name)
        # The default's manifest, or the newest's when the default does not serve here.
        shown = self.models[name].get(default or "") or self.models[name][versions[-1]]
        return ModelSummary(
            name=name,
            versions=versions,
            default_version=default,
            aliases=self.aliases.of(name),
            public_aliases=self.aliases.public_of(name),
            task=shown.manifest.task,
            description=shown.manifest.description,
        )

    def metadata(self, name: str, version: str | None = None) -> ModelMetadata:
        """`GET /models/{name}`: the model, with the default version's contract; with
        `version`, that version's task, description and contract (an upload's answer)."""
        shown = self.get(name, version)
        summary = self._summary(name).model_dump()
        summary.update(task=shown.manifest.task, description=shown.manifest.description)
        return ModelMetadata(
            **summary,
            features=shown.manifest.features,
            classes=shown.classes,
            input_schema=shown.schemas.instance.model_json_schema(),
            max_rows=self.settings.max_rows,
            runtime=shown.runtime_info,
        )

    def readiness(self) -> dict[str, str]:
        """Every version this replica knows: `ready` or why not."""
        states = {f"{n}/{v}": READY for n, versions in self.models.items() for v in versions}
        return {**states, **self.failures}
