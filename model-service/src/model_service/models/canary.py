"""A canary prediction: one row built from the manifest's feature schema, through the same
typed model and array conversion a real request takes, predicted (and its probabilities)."""

import json
import math
from typing import Any

from model_service.models.bundles import Bundle
from model_service.models.schemas import bounds, build_schemas
from shared_schemas.manifest import FeatureSpec


def canary_value(feature: FeatureSpec) -> Any:
    """A value the feature's schema accepts: the middle of its bounds, else a bound, else 0."""
    if feature.type == "category":
        assert feature.categories is not None
        return feature.categories[0]
    if feature.type == "bool":
        return False
    if feature.min is not None and feature.max is not None:
        value = (feature.min + feature.max) / 2
    else:
        value = next((b for b in (feature.min, feature.max) if b is not None), 0.0)
    if feature.type == "int":
        low, high = bounds(feature)
        return min(max(round(value), math.ceil(low)), math.floor(high))
    return float(value)


def predict_canary(bundle: Bundle) -> None:
    """Predict one synthetic row; whatever the estimator raises is the caller's to report."""
    schemas = build_schemas(bundle.manifest, max_rows=1)
    row = {feature.name: canary_value(feature) for feature in bundle.manifest.features}
    rows = schemas.to_array([schemas.instance.model_validate_json(json.dumps(row))])
    given = schemas.model_input(rows)
    bundle.estimator.predict(given)
    if hasattr(bundle.estimator, "predict_proba"):
        bundle.estimator.predict_proba(given)
