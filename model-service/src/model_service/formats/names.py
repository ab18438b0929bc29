"""Feature names as callers write them: the wire name, or the column the model was fitted with
(`peso (kg)` for the wire's `peso_kg`), which is what a DataFrame in the caller's hands says."""

from dataclasses import dataclass

from shared_schemas.manifest import FeatureSpec


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


def feature_names(features: list[FeatureSpec]) -> FeatureNames:
    """The names callers may use for `features` (built once per loaded version, with its
    schemas)."""
    known = {f.model_column: f.name for f in features}
    known.update({f.name: f.name for f in features})
    return FeatureNames(
        wire=tuple(f.name for f in features),
        known=known,
        aliased=any(f.model_column != f.name for f in features),
        types={f.name: f.type for f in features},
    )
