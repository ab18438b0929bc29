"""Rows for predict and infer, made JSON-native before they leave: records, DataFrames named
as fitted or as on the wire, arrays in feature order; what the API refuses is refused here."""

import numpy as np
import pandas as pd
import pytest

from servir.client.rows import instances
from servir.client.v2 import infer_body
from servir.errors import ServirError
from shared_schemas.manifest import FeatureSpec

FEATURES = [
    FeatureSpec(name="sepal_length_cm", column="sepal length (cm)", type="float"),
    FeatureSpec(name="ano", column="año", type="int"),
    FeatureSpec(name="especie", type="category", categories=["Gato", "Perro"]),
]


def test_a_frame_named_as_fitted_goes_out_by_wire_name() -> None:
    frame = pd.DataFrame({"sepal length (cm)": [5.1], "año": [2024], "especie": ["Gato"]})
    assert instances(frame, FEATURES) == [{"sepal_length_cm": 5.1, "ano": 2024, "especie": "Gato"}]
    wired = frame.rename(columns={"sepal length (cm)": "sepal_length_cm", "año": "ano"})
    assert instances(wired, FEATURES) == instances(frame, FEATURES)


def test_values_become_json_native() -> None:
    rows = instances([{"a": np.float32(1.5), "b": np.int64(3), "c": np.bool_(True)}])
    assert rows == [{"a": 1.5, "b": 3, "c": True}]
    assert [type(v) for v in rows[0].values()] == [float, int, bool]


def test_an_array_is_in_feature_order() -> None:
    array = np.array([[5.1, 2024, "Perro"]], dtype=object)
    assert instances(array, FEATURES) == [{"sepal_length_cm": 5.1, "ano": 2024, "especie": "Perro"}]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"x": float("nan")}], r"row 0, x: nan is not a number"),
        ([{"x": 1.0}, {"x": float("inf")}], r"row 1, x: inf"),
        ([{"x": None}], r"row 0, x: a missing value"),
        (
            pd.DataFrame({"especie": ["Gato", pd.NA]}, dtype="string"),
            r"row 1, especie: a missing value",
        ),
        ({"x": 1}, "a list of dicts"),
        ([[1, 2]], "row 0 is not a dict"),
    ],
)
def test_values_the_api_refuses_are_named(rows: object, message: str) -> None:
    with pytest.raises(ServirError, match=message):
        instances(rows, FEATURES)


def test_an_array_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ServirError, match="3 features"):
        instances(np.zeros((2, 2)), FEATURES)
    with pytest.raises(ServirError, match="2 dimensions"):
        instances(np.zeros(3), FEATURES)


def test_a_table_is_one_v2_input_tensor() -> None:
    numbers = infer_body(np.array([[1.0, 2.0], [3.0, 4.0]]), ["predict"])
    assert numbers["inputs"] == [
        {"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [1.0, 2.0, 3.0, 4.0]}
    ]
    assert numbers["outputs"] == [{"name": "predict"}]
    mixed = infer_body([[60, "two-year", True]], None)
    assert mixed["inputs"][0]["datatype"] == "BYTES"
    assert mixed["inputs"][0]["data"] == ["60", "two-year", "True"]
    whole = {"inputs": [{"name": "input", "shape": [1, 1], "datatype": "INT64", "data": [1]}]}
    assert infer_body(whole, None)["inputs"] == whole["inputs"]
