"""Feature names as callers write them: the wire name, or the column the model was fitted with
(`peso (kg)` for the wire's `peso_kg`), which is what a DataFrame in the caller's hands says."""

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from model_service.models.registry import ModelVersion

Built = TypeVar("Built")


class PerModel(Generic[Built]):
    """What `build` makes of a loaded version, made once; dropped when the version goes."""

    def __init__(self, build: Callable[[ModelVersion], Built]) -> None:
        self.build = build
        self.built: dict[int, tuple[weakref.ref[ModelVersion], Built]] = {}

    def __call__(self, model: ModelVersion) -> Built:
        key = id(model)
        cached = self.built.get(key)
        if cached is not None and cached[0]() is model:
            return cached[1]
        value = self.build(model)
        self.built[key] = (weakref.ref(model, lambda _: self.built.pop(key, None)), value)
        return value


@dataclass(frozen=True)
class FeatureNames:
    """A model's features by wire name, in order, and every name a caller may use for them."""

    wire: tuple[str, ...]
    known: dict[str, str]  # wire name or fitted column -> wire name
    aliased: bool  # some fitted column differs from its wire name
    types: dict[str, str]  # wire name -> feature type (float, int, bool, category)

    def describe(self) -> str:
        """The features in order, for error messages."""
        return ", ".join(self.wire)


def _build(model: ModelVersion) -> FeatureNames:
    features = model.manifest.features
    known = {f.model_column: f.name for f in features}
    known.update({f.name: f.name for f in features})
    return FeatureNames(
        wire=tuple(f.name for f in features),
        known=known,
        aliased=any(f.model_column != f.name for f in features),
        types={f.name: f.type for f in features},
    )


names_of = PerModel(_build)
