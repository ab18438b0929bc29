"""Rows as the model-service hands them to a model: its request rows become a 2-D array in
feature order (float64, or object with a category feature), and for a model fitted on a
DataFrame, a DataFrame named as fitted with each type's dtype (model_service's
`ModelSchemas.to_array` and `model_input`, reproduced without depending on the service)."""

from typing import Any

import numpy as np
import pandas as pd

from shared_schemas.manifest import FRAME_DTYPES, FeatureSpec, InputFormat, Scalar


def service_input(
    features: list[FeatureSpec], input_format: InputFormat, rows: list[dict[str, Scalar]]
) -> Any:
    """What the service gives the estimator for `rows` (keyed by wire name)."""
    categorical = any(feature.type == "category" for feature in features)
    array = np.array(
        [[row[feature.name] for feature in features] for row in rows],
        dtype=object if categorical else np.float64,
    )
    if input_format == "ndarray":
        return array
    columns = {
        feature.model_column: pd.Series(array[:, index], dtype=FRAME_DTYPES[feature.type])
        for index, feature in enumerate(features)
    }
    return pd.DataFrame(columns)
