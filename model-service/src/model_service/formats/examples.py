"""Typical rows for the documentation's examples: each feature at its reference median when
the manifest gives one, else its training mean, else the middle of its bounds; a category at
its most frequent value. Never at a bound: a value at the limit looks like the model's usual
input and is not."""

import math
from typing import Any

from shared_schemas.manifest import FeatureSpec, Manifest


def typical_row(manifest: Manifest) -> dict[str, Any]:
    """One row by wire name, every feature at a typical value."""
    return {feature.name: _typical(feature, manifest) for feature in manifest.features}


def _typical(feature: FeatureSpec, manifest: Manifest) -> Any:
    reference = (manifest.reference or {}).get(feature.name)
    if feature.type == "category":
        assert feature.categories is not None
        shares = (reference.frequencies if reference is not None else None) or {}
        known = [value for value in feature.categories if value in shares]
        return max(known, key=lambda value: shares[value]) if known else feature.categories[0]
    if feature.type == "bool":
        return False
    stats = (manifest.training_stats or {}).get(feature.name)
    if reference is not None and reference.median is not None:
        value = reference.median
    elif stats is not None and stats.mean is not None:
        value = stats.mean
    else:
        value = _middle(feature.min, feature.max)
    return _inside(value, feature)


def _middle(low: float | None, high: float | None) -> float:
    if low is not None and high is not None:
        return (low + high) / 2
    if low is not None:
        return max(low, 0.0) if low < 0 else low + 1.0
    if high is not None:
        return min(high - 1.0, 0.0)
    return 0.0


def _inside(value: float, feature: FeatureSpec) -> float | int:
    """`value` rounded for the type, inside the bounds and below the upper one."""
    low = -math.inf if feature.min is None else feature.min
    high = math.inf if feature.max is None else feature.max
    if feature.type == "int":
        number: float | int = min(max(round(value), math.ceil(low)), math.floor(high))
        if number == high and math.ceil(low) < number:
            number -= 1
        return number
    number = round(min(max(value, low), high), 3)
    if number >= high and low < high:
        number = (low + high) / 2
    return number
