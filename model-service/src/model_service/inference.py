"""Inference over the registry, whatever carried the request (MLServer's data plane).

The predict fast path, the FastAPI routes and the Open Inference Protocol routes all come here:
look a model up, predict with JSON records or a V2 request, count it in the model's metrics.
Nothing here knows HTTP: failures are the service's errors, which each transport renders as
problem+json.
"""

import logging
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import orjson
from starlette.types import Scope

from model_service.errors import InvalidInput, ModelError, NotFound
from model_service.formats.request import RequestForm, read_request, request_form
from model_service.metrics import ModelMetrics
from model_service.models.registry import ModelVersion, Registry
from model_service.shadow import ShadowMetrics, Shadows
from model_service.v2.infer import After, InferCall, infer, model_metadata
from model_service.v2.tensors import BadTensor
from shared_schemas.inference import ModelMetadata, ModelSummary, V2ModelMetadata
from shared_schemas.problems import FieldError

logger = logging.getLogger("servir.models")
SCOPES = b"x-servir-scopes"  # the caller's scopes, as the gateway forwards them
Answer = TypeVar("Answer")
# What the caller sent wrong (counted as `invalid_input`). The model raising on valid rows is
# `model_error` (ModelError, a 500); anything else (a timeout, a version out of service) is
# `model_failed`.
CALLER_ERRORS = (InvalidInput, BadTensor)


def _scopes(scope: Scope | None) -> str | None:
    """The caller's scopes as the gateway forwards them; None on an internal call."""
    found = next((v for k, v in scope["headers"] if k == SCOPES), None) if scope else None
    return found.decode("latin-1") if found is not None else None


class DataPlane:
    """The models this replica serves, as the protocols ask for them."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.metrics = registry.metrics
        limit = registry.settings.shadow_max_in_flight
        self.shadows = Shadows(registry, ShadowMetrics(self.metrics.registry), limit)

    def model(
        self, name: str, version: str | None = None, *, scope: Scope | None = None
    ) -> ModelVersion:
        """A servable version (production's, or the traffic split's, when none is named); 404
        or 503 otherwise. `name` may be `model@alias`, and `version` an alias name (stock V2
        clients put it there): the alias's version then, 403 when it is not public and the
        request's `scope` carries scopes (the gateway's X-Servir-Scopes; none on internal
        calls) without models:admin."""
        aliases = self.registry.aliases
        if "@" in name:
            if version is not None:  # `/models/iris@canary/versions/2/...` names no model
                raise NotFound(f"No model {name} version {version}.")
            name, _, alias = name.partition("@")
            version = aliases.resolve(name, alias, _scopes(scope))
        elif version is not None and not version.isdigit():
            version = aliases.resolve(name, version, _scopes(scope))
        elif version is None and (split := aliases.splits.get(name)) is not None:
            version = split.choose(name, scope)
        return self.registry.get(name, version)

    def summaries(self) -> list[ModelSummary]:
        """Every model this replica serves."""
        return self.registry.summaries()

    def metadata(self, name: str) -> ModelMetadata:
        """A model's versions, features, classes and instance schema."""
        return self.registry.metadata(name)

    def v2_metadata(self, name: str, version: str | None = None) -> V2ModelMetadata:
        """A version's tensors (the default's, with every loaded version, when none is named)."""
        model = self.registry.get(name, version)
        versions = [version] if version is not None else self.registry.versions(name)
        return model_metadata(model, versions)

    async def predict(
        self,
        model: ModelVersion,
        body: bytes,
        *,
        csv: bool = False,
        mlflow: bool = False,
        split: bool = False,
    ) -> bytes:
        """Rows in (our JSON, MLflow's bodies, CSV), predictions out as JSON: ours, with
        probabilities when asked, or MLflow's `{"predictions": [...]}` (`mlflow`). `split`:
        the request came by an unversioned route, whose traffic split may shadow it."""
        form = request_form(csv=csv, mlflow=mlflow, max_rows=self.registry.settings.max_rows)
        after = self.shadows.copy if split else None
        return await self._counted(model, _predict_records(model, body, self.metrics, form, after))

    async def infer(
        self,
        model: ModelVersion,
        body: bytes,
        *,
        header_length: str | None,
        request_id: str,
        split: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        """An Open Inference Protocol request (JSON or binary tensors); the body and headers.
        `split` as for `predict`."""
        call = InferCall(
            body=body,
            header_length=header_length,
            request_id=request_id,
            max_rows=self.registry.settings.max_rows,
            after=self.shadows.copy if split else None,
        )
        return await self._counted(model, infer(model, call, self.metrics))

    async def _counted(self, model: ModelVersion, work: Coroutine[Any, Any, Answer]) -> Answer:
        """`work`'s answer, counted in the model's requests, errors and latency."""
        labels = (model.manifest.name, model.manifest.version)
        counted = self.metrics.of_version(*labels)
        counted.requests.inc()
        started = time.perf_counter()
        try:
            answer = await work
        except CALLER_ERRORS:
            self.metrics.errors.labels(*labels, "invalid_input").inc()
            raise
        except ModelError as exc:
            self.metrics.errors.labels(*labels, "model_error").inc()
            # Here, not in the worker thread: the line carries the request id the 500 shows.
            logger.error(
                "model error",
                exc_info=exc.__cause__ or exc,
                extra={"model": exc.model, "version": exc.version},
            )
            raise
        except Exception:
            self.metrics.errors.labels(*labels, "model_failed").inc()
            raise
        counted.latency.observe(time.perf_counter() - started)
        return answer


async def _predict_records(
    model: ModelVersion, body: bytes, metrics: ModelMetrics, form: RequestForm, after: After
) -> bytes:
    """Validate against the model's own schema, predict (batched) and render."""
    parsed = read_request(model, body, form)
    wants_proba = parsed.proba
    if wants_proba and not model.has_proba:
        error = FieldError(
            loc=["body", "return_probabilities"],
            msg="this model has no probabilities",
            type="value_error",
        )
        raise InvalidInput("This model has no probabilities.", errors=[error])
    rows = parsed.rows
    if model.training_range is not None:
        labels = (model.manifest.name, model.manifest.version)
        metrics.count_out_of_range(*labels, rows, model.training_range)
    predictions, probabilities = await model.queue.submit(rows, proba=wants_proba)
    if after is not None:
        after(model, rows, predictions)
    if form.mlflow:
        return orjson.dumps({"predictions": predictions.tolist()})
    answer = {
        "model": model.manifest.name,
        "version": model.manifest.version,
        "predictions": predictions.tolist(),
        "probabilities": probabilities.tolist() if probabilities is not None else None,
        "classes": model.classes,
    }
    return orjson.dumps(answer)
