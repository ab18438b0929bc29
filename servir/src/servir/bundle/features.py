"""The manifest's features: wire names, types, categories and the caller's hard bounds."""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import ValidationError

from servir.bundle.encoders import encoder_categories
from servir.bundle.sample import Sample
from servir.errors import BundleError
from shared_schemas.manifest import FeatureSpec, FeatureType, wire_name

Bounds = Mapping[str, tuple[float | None, float | None]]
NAME_LIMIT = 64


def wire_names(columns: list[str]) -> list[str]:
    """A distinct wire name per column: `wire_name(column)`, then `_2`, `_3`... on collision.

    A column already valid as a wire name keeps it; the others yield to it."""
    wanted = [wire_name(column) for column in columns]
    taken = {name for name, column in zip(wanted, columns, strict=True) if name == column}
    out: list[str] = []
    for name, column in zip(wanted, columns, strict=True):
        if name == column:
            out.append(name)
            continue
        unique, count = name, 1
        while unique in taken:
            count += 1
            suffix = f"_{count}"
            unique = name[: NAME_LIMIT - len(suffix)] + suffix
        taken.add(unique)
        out.append(unique)
    return out


def build_features(model: Any, sample: Sample, bounds: Bounds | None) -> list[FeatureSpec]:
    """One FeatureSpec per sample column, in the model's order."""
    columns = [str(name) for name in sample.frame.columns]
    learnt = encoder_categories(model, columns)
    features = []
    for column, name, kind in zip(columns, wire_names(columns), sample.types, strict=True):
        categories = None
        if kind == "category":
            categories = _categories(sample.frame[column], learnt.get(column))
        features.append(_spec(column, name, kind, categories))
    return _with_bounds(features, sample.frame, bounds or {})


def _spec(column: str, name: str, kind: FeatureType, categories: list[str] | None) -> FeatureSpec:
    try:
        return FeatureSpec(
            name=name,
            type=kind,
            column=None if name == column else column,
            categories=categories,
        )
    except ValidationError as exc:  # a name too long, too many categories...
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleError(
            f"column {column!r} cannot be a feature: {where}: {first['msg']}"
        ) from None


def _categories(values: pd.Series, learnt: list[str] | None) -> list[str]:
    """The dtype's categories, else the encoder's (plus values it lets through), else the
    sample's own values, sorted."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [str(value) for value in values.dtype.categories]
    seen = sorted({str(value) for value in values})
    if learnt is None:
        return seen
    known = set(learnt)
    return learnt + [value for value in seen if value not in known]


def _with_bounds(
    features: list[FeatureSpec], frame: pd.DataFrame, bounds: Bounds
) -> list[FeatureSpec]:
    by_key = {f.model_column: f for f in features} | {f.name: f for f in features}
    unknown = [key for key in bounds if key not in by_key]
    if unknown:
        raise BundleError(f"bounds name unknown column(s): {', '.join(map(repr, unknown))}")
    limits = {by_key[key].name: pair for key, pair in bounds.items()}
    return [
        _bounded(f, frame[f.model_column], limits[f.name]) if f.name in limits else f
        for f in features
    ]


def _bounded(
    feature: FeatureSpec, values: pd.Series, pair: tuple[float | None, float | None]
) -> FeatureSpec:
    column = feature.model_column
    if feature.type not in {"float", "int"}:
        raise BundleError(f"bounds apply to numbers; {column!r} is a {feature.type}")
    try:
        low, high = (None if bound is None else float(bound) for bound in pair)
    except (TypeError, ValueError):
        raise BundleError(f"the bounds of {column!r} must be a (low, high) pair") from None
    if low is not None and high is not None and low > high:
        raise BundleError(f"the bounds of {column!r} are reversed: {low} > {high}")
    outside = [
        value
        for value in values.tolist()
        if (low is not None and value < low) or (high is not None and value > high)
    ]
    if outside:
        raise BundleError(
            f"the sample's {column!r} has {outside[0]!r}, outside the bounds ({low}, {high}); "
            "a request with it would be refused"
        )
    return feature.model_copy(update={"min": low, "max": high})
