"""Statistics of the reference data (by default the sample): per numeric feature its training
range (for the service's out-of-range counters), per feature its distribution (for drift)."""

import numpy as np
import pandas as pd

from shared_schemas.manifest import FeatureSpec, FeatureStats, ReferenceStats

DECILES = np.linspace(0.0, 1.0, 11)
NUMERIC = frozenset({"float", "int"})


def training_stats(features: list[FeatureSpec], frame: pd.DataFrame) -> dict[str, FeatureStats]:
    """Mean, standard deviation, min and max of each numeric feature, by wire name."""
    out: dict[str, FeatureStats] = {}
    for feature in features:
        if feature.type in NUMERIC:
            values = _numbers(frame[feature.model_column])
            out[feature.name] = FeatureStats(
                mean=float(values.mean()),
                std=float(values.std()),
                min=float(values.min()),
                max=float(values.max()),
            )
    return out


def reference_stats(features: list[FeatureSpec], frame: pd.DataFrame) -> dict[str, ReferenceStats]:
    """Per feature, by wire name: numbers' median, decile edges and the share of rows in each
    bin; categories' (and booleans') shares."""
    out: dict[str, ReferenceStats] = {}
    for feature in features:
        values = frame[feature.model_column]
        if feature.type in NUMERIC:
            out[feature.name] = numeric_reference(_numbers(values))
        else:
            out[feature.name] = ReferenceStats(frequencies=frequencies(feature, values))
    return out


def numeric_reference(values: np.ndarray) -> ReferenceStats:
    """The decile edges (repeated ones merged) and the share of `values` between each pair:
    bins hold their lower edge, the last one its upper edge too (numpy.histogram's rule)."""
    edges = np.unique(np.quantile(values, DECILES))
    if len(edges) == 1:  # a constant: one bin holding every row
        return ReferenceStats(
            median=float(edges[0]), edges=[float(edges[0])] * 2, proportions=[1.0]
        )
    counts, _ = np.histogram(values, bins=edges)
    return ReferenceStats(
        median=float(np.median(values)),
        edges=[float(edge) for edge in edges],
        proportions=[float(count) / len(values) for count in counts],
    )


def frequencies(feature: FeatureSpec, values: pd.Series) -> dict[str, float]:
    """Each category's share of the rows (0.0 for a known category absent from them);
    booleans are counted as `true` and `false`, as JSON spells them."""
    if feature.type == "bool":
        keys = ["true" if value else "false" for value in values.tolist()]
        known = ["false", "true"]
    else:
        keys = [str(value) for value in values.tolist()]
        known = list(feature.categories or [])
    shares = pd.Series(keys, dtype=object).value_counts(normalize=True)
    out = dict.fromkeys(known, 0.0)
    out.update({str(key): float(share) for key, share in shares.items()})
    return out


def _numbers(values: pd.Series) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
