"""Out-of-training-range counting (metrics.count_out_of_range): the Python check of a few rows
and the array check of many count the same values, over float rows and object rows, with every
feature ranged or only some."""

import random

import numpy as np
import pytest

from model_service.metrics import SMALL_ROWS, ModelMetrics, TrainingRange

RANGES = {"a": (0.0, 1.0), "b": (-5.0, 5.0), "c": (10.0, 20.0)}


def training(columns: list[int]) -> TrainingRange:
    names = list(RANGES)
    return TrainingRange(
        columns=columns,
        features=[names[i] for i in columns],
        low=np.array([RANGES[names[i]][0] for i in columns]),
        high=np.array([RANGES[names[i]][1] for i in columns]),
        every_column=len(columns) == len(names),
    )


def counted(metrics: ModelMetrics, feature: str) -> float:
    found = metrics.registry.get_sample_value(
        "servir_model_inputs_out_of_training_range_total",
        {"model": "m", "version": "1", "feature": feature},
    )
    return found or 0.0


def expected(rows: np.ndarray, ranged: TrainingRange) -> dict[str, float]:
    values = rows[:, ranged.columns].astype(float)
    outside = (values < ranged.low) | (values > ranged.high)
    return dict(zip(ranged.features, outside.sum(axis=0).tolist(), strict=True))


@pytest.mark.parametrize("columns", [[0, 1, 2], [0, 2]])
@pytest.mark.parametrize("dtype", [np.float64, object])
def test_few_rows_and_many_rows_count_alike(columns: list[int], dtype: type) -> None:
    rng = random.Random(14)
    ranged = training(columns)
    for count in [1, 2, SMALL_ROWS, SMALL_ROWS + 1, 50]:
        metrics = ModelMetrics()
        total = dict.fromkeys(ranged.features, 0.0)
        for _ in range(20):
            cells = [[rng.choice([-6, -0.5, 0, 0.5, 1, 5, 9.5, 10, 20, 21]) for _ in range(3)]]
            rows: np.ndarray = np.array(cells * count, dtype=dtype)
            metrics.count_out_of_range("m", "1", rows, ranged)
            for feature, n in expected(rows, ranged).items():
                total[feature] += n
        assert {f: counted(metrics, f) for f in ranged.features} == total
        assert sum(total.values()) > 0  # the draw put values outside
