"""Small JSON tensors checked in plain Python (v2/small.py) agree with the array path: what the
small check accepts, the array path accepts into the very same float64 rows; what the array path
refuses, the small check leaves to it (so the error is worded as before)."""

import random
from math import inf, nan
from typing import Any

import numpy as np
import pytest

from model_service.v2.codec import tensor_array
from model_service.v2.small import small_rows
from model_service.v2.tensors import BadTensor, TensorSpec, rows_from_numbers
from shared_schemas.inference import V2RequestInput

# A float feature, an int one within 0..120, a bounded float and a bool (0/1).
SPEC = TensorSpec(
    names=("ratio", "age", "score", "member"),
    types=("float", "int", "float", "bool"),
    numeric=(0, 1, 2, 3),
    low=np.array([-3.4e38, 0.0, -1.5, 0.0]),
    high=np.array([3.4e38, 120.0, 2.5, 1.0]),
    whole=np.array([False, True, False, True]),
    categories={},
)
VALUES: list[Any] = [
    0, 1, 7, 120, 121, -1, 2**63, -(2**63) - 1, 0.5, 1.0, -1.5, 2.5, 2.6, 30.0, 1e39, -0.0,
    inf, -inf, nan, True, False, "1", None, [1],
]  # fmt: skip


def tensor(data: list[Any], rows: int, datatype: str = "FP64") -> V2RequestInput:
    return V2RequestInput(name="input", shape=[rows, 4], datatype=datatype, data=data)  # type: ignore[arg-type]


def array_path(given: V2RequestInput) -> np.ndarray | None:
    try:
        return rows_from_numbers(tensor_array(given, None), SPEC)
    except BadTensor:
        return None


def random_data(rng: random.Random, datatype: str) -> tuple[list[Any], int]:
    rows, filler = rng.randint(1, 3), (1 if datatype == "INT64" else 1.0)
    good = [0, 60, 2, 1] if datatype == "INT64" else [0.5, 60, 2.0, 1]
    cells = [[rng.choice(VALUES) if rng.random() < 0.3 else filler for _ in range(4)]]
    cells += [[rng.choice(good) for _ in range(4)] for _ in range(rows - 1)]
    nested = rng.random() < 0.5
    return (cells if nested else [v for row in cells for v in row]), rows


@pytest.mark.parametrize("datatype", ["FP64", "INT64"])
def test_the_small_check_agrees_with_the_array_path(datatype: str) -> None:
    rng, accepted = random.Random(14), 0
    for _ in range(3000):
        data, rows = random_data(rng, datatype)
        given = tensor(data, rows, datatype)
        small, expected = small_rows(given, SPEC), array_path(given)
        if small is not None:
            accepted += 1
            assert expected is not None, data  # never accepts what the array path refuses
            assert small.dtype == expected.dtype == np.float64
            assert np.array_equal(small, expected), data
    assert accepted > 100  # the common, valid case does take the small path


def test_a_plain_valid_row_takes_the_small_path() -> None:
    given = tensor([5.1, 30, 2.5, 1], 1)
    small = small_rows(given, SPEC)
    assert small is not None
    assert small.tolist() == [[5.1, 30.0, 2.5, 1.0]]


@pytest.mark.parametrize(
    "data",
    [[5.1, 30, 2.5, True], [5.1, 30.5, 2.5, 1], [nan, 30, 2.5, 1], [5.1, 30, 2.6, 1], [[5.1, 30]]],
)
def test_what_the_array_path_refuses_is_left_to_it(data: list[Any]) -> None:
    given = tensor(data, 1)
    assert small_rows(given, SPEC) is None
    assert array_path(given) is None


def test_large_tensors_and_fp32_go_the_array_way() -> None:
    assert small_rows(tensor([1.0, 1, 1.0, 1] * 17, 17), SPEC) is None
    assert small_rows(tensor([1.0, 1, 1.0, 1], 1, "FP32"), SPEC) is None
