"""Model-service settings (`MODEL_*`)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servir_runtime.settings import ServiceSettings

# Types beyond skops' defaults that scikit-learn's own estimators need (trees).
DEFAULT_ALLOWED_TYPES = ["sklearn.tree._tree.Tree"]


class Settings(ServiceSettings):
    """Everything the model-service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="MODEL_")

    port: int = Field(default=8002, ge=0, le=65535)
    models_dir: Path = Path("models")
    # Bundles found here at start are copied into models_dir when it lacks them (compose mounts
    # the host's models/ here, read-only, while models_dir is the replicas' shared volume).
    import_dir: Path | None = None
    max_rows: int = Field(default=1000, ge=1, le=1_000_000)
    # Aliases per model (`production` among them); one more is 422.
    max_aliases: int = Field(default=16, ge=1, le=1000)
    # Shadow copies in flight on a replica; beyond it new copies are dropped and counted.
    shadow_max_in_flight: int = Field(default=32, ge=0, le=10_000)
    allowed_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_TYPES))
    allow_pickle: bool = False
    max_batch_size: int = Field(default=256, ge=1, le=100_000)
    max_wait_ms: float = Field(default=1.0, ge=0, le=1000)
    # A model whose predict calls take less than this (measured) runs them on the event loop,
    # not in a worker thread, when its structure was validated and its canary ran quickly (an
    # inline call cannot be interrupted); 0 turns it off.
    inline_max_microseconds: float = Field(default=200.0, ge=0, le=100_000)
    inference_threads: int = Field(default=4, ge=1, le=64)
    # A predict call running longer takes its version out of service (503 + Retry-After,
    # `degraded` in /readyz) until it is loaded again; below the gateway's upstream timeout.
    inference_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    max_bundle_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Types served without structural validation (validation.VALIDATED_TYPES lists the checked
    # ones): the operator vouches for their contents. Anything else is refused.
    unvalidated_types: list[str] = Field(default_factory=list)
    # The skops file's zip directory, read before anything is loaded.
    max_model_members: int = Field(default=20_000, ge=1)
    max_model_unpacked_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_model_ratio: float = Field(default=200.0, ge=1.0)
    # An uploaded .tar.gz: a bundle is a folder, a manifest and a model file.
    max_archive_members: int = Field(default=16, ge=3, le=10_000)
    # Verification (load, validation, test predictions) in a child process, per bundle.
    verify_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # The child's own start (importing scikit-learn), before any bundle's deadline runs.
    verify_start_seconds: float = Field(default=120.0, gt=0, le=3600)
    verify_cpu_seconds: int = Field(default=60, ge=1, le=3600)
    verify_memory_bytes: int = Field(default=4 * 1024**3, ge=256 * 1024 * 1024)
    # How far a number the model answers for one of the bundle's examples (a regression
    # prediction, a probability) may lie from the recorded one; labels must be equal.
    example_tolerance: float = Field(default=1e-6, ge=0, le=1e6)
    # What serves a model: `auto` runs it compiled to ONNX (onnxruntime) where the verifying
    # child converted it and found the same answers; `sklearn` always runs the estimator.
    runtime: Literal["auto", "sklearn"] = "auto"
    # How far the compiled model's numbers (probabilities, regression values) may lie from
    # scikit-learn's on the verification rows (absolute up to 1, relative beyond); labels must
    # be identical. float32 arithmetic differs by about 1e-7; 1e-4 leaves room for a long sum
    # of leaves while a different branch taken in a tree shows far above it.
    runtime_tolerance: float = Field(default=1e-4, ge=0, le=1.0)
    # Random rows, drawn over each feature's spread, the compiled model must also agree on
    # (beside the synthetic rows and the examples): a float32 rounding near a tree's split,
    # which few rows seldom meet, shows among thousands.
    runtime_parity_rows: int = Field(default=2000, ge=0, le=100_000)
    # Threads onnxruntime uses within (and between) operators per predict call: one, as the
    # inference pool runs several calls at once.
    onnx_threads: int = Field(default=1, ge=1, le=64)
    # The largest compiled model the child hands back (a bigger one serves with scikit-learn).
    max_onnx_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024**3)
    # How often each replica rescans the store for bundles dropped in it (and, in containers,
    # MODEL_IMPORT_DIR for new ones to copy in); 0 turns the watch off (the 30 s catch-up of
    # missed repository events still finds them).
    watch_interval_seconds: float = Field(default=2.0, ge=0, le=3600)
    # A dropped bundle that is incomplete (manifest missing or invalid, model file short or
    # not matching its sha256) waits, unrecorded, while it may still be copying; unchanged
    # this long, it is loaded anyway and fails with its reason like any bad bundle.
    pickup_grace_seconds: float = Field(default=60.0, ge=0, le=86400)
