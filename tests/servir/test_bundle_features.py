"""What save_model infers about features: wire names, types, categories (a pandas categorical,
a fitted encoder, else the sample) and the caller's hard bounds."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from servir.bundle import save_model
from servir.bundle.features import wire_names
from servir.errors import BundleError
from shared_schemas.manifest import FeatureSpec, Manifest


def saved(tmp_path: Path, model: Any, sample: Any, **options: Any) -> Manifest:
    folder = save_model(model, tmp_path / "m" / "1", sample=sample, name="m", **options)
    return Manifest.model_validate_json((folder / "manifest.json").read_bytes())


def by_name(manifest: Manifest) -> dict[str, FeatureSpec]:
    return {f.name: f for f in manifest.features}


def table() -> tuple[pd.DataFrame, list[str]]:
    frame = pd.DataFrame(
        {
            "especie": ["Gato", "Perro", "Gato", "Perro", "Gato", "Perro"],
            "edad": [1, 5, 3, 8, 2, 7],
            "vacunado": [True, False, True, True, False, False],
        }
    )
    return frame, ["a", "b", "a", "b", "a", "b"]


def encoded(encoder: Any) -> Pipeline:
    columns = ColumnTransformer(
        [("especie", encoder, ["especie"])], remainder="passthrough", sparse_threshold=0
    )
    return make_pipeline(columns, LogisticRegression())


def test_wire_names_are_distinct_and_exact_names_keep_theirs() -> None:
    assert wire_names(["a b", "a_b", "a-b", "año", "1st"]) == [
        "a_b_2",
        "a_b",
        "a_b_3",
        "ano",
        "_1st",
    ]
    long = ["x" * 70, "x" * 64 + "!"]
    named = wire_names(long)
    assert named == ["x" * 64, "x" * 62 + "_2"]


def test_types_come_from_dtypes(tmp_path: Path) -> None:
    frame, labels = table()
    model = encoded(OneHotEncoder()).fit(frame, labels)

    features = by_name(saved(tmp_path, model, frame))

    assert {name: f.type for name, f in features.items()} == {
        "especie": "category",
        "edad": "int",
        "vacunado": "bool",
    }


def test_categories_come_from_the_fitted_encoder(tmp_path: Path) -> None:
    frame, labels = table()
    known = [["Perro", "Gato", "Loro"]]  # Loro: known to the encoder, absent from the sample
    model = encoded(OneHotEncoder(categories=known)).fit(frame, labels)

    features = by_name(saved(tmp_path, model, frame))

    assert features["especie"].categories == ["Perro", "Gato", "Loro"]


def test_an_encoder_behind_an_imputer_and_by_position_is_found(tmp_path: Path) -> None:
    frame, labels = table()
    inner = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OrdinalEncoder(categories=[["Gato", "Perro", "Loro"]]),
    )
    columns = ColumnTransformer([("especie", inner, [0])], remainder="passthrough")
    model = make_pipeline(columns, LogisticRegression()).fit(frame.to_numpy(), labels)

    features = saved(tmp_path, model, frame.to_numpy()).features

    assert features[0].name == "x0"
    assert features[0].categories == ["Gato", "Perro", "Loro"]


def test_a_pandas_categorical_gives_its_categories_in_order(tmp_path: Path) -> None:
    frame, labels = table()
    frame["especie"] = pd.Categorical(frame["especie"], categories=["Perro", "Gato", "Loro"])
    model = encoded(OneHotEncoder(handle_unknown="ignore")).fit(frame, labels)

    features = by_name(saved(tmp_path, model, frame))

    assert features["especie"].categories == ["Perro", "Gato", "Loro"]


def test_without_an_encoder_the_sample_gives_the_categories(tmp_path: Path) -> None:
    frame, labels = table()
    frame["especie"] = ["Perro", "Gato", "Loro", "Gato", "Perro", "Gato"]
    model = DummyClassifier().fit(frame, labels)

    features = by_name(saved(tmp_path, model, frame))

    assert features["especie"].categories == ["Gato", "Loro", "Perro"]


def test_an_ndarray_sample_takes_the_names_the_model_was_fitted_with(tmp_path: Path) -> None:
    frame, labels = table()
    model = encoded(OneHotEncoder()).fit(frame, labels)

    manifest = saved(tmp_path, model, frame.to_numpy())

    assert manifest.input_format == "dataframe"
    assert [f.name for f in manifest.features] == ["especie", "edad", "vacunado"]
    assert [f.type for f in manifest.features] == ["category", "int", "bool"]


def test_bounds_are_set_only_where_given(tmp_path: Path) -> None:
    frame, labels = table()
    model = encoded(OneHotEncoder()).fit(frame, labels)

    features = by_name(saved(tmp_path, model, frame, bounds={"edad": (0, 30)}))

    assert (features["edad"].min, features["edad"].max) == (0, 30)
    assert features["vacunado"].min is None


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"peso": (0, 1)}, "unknown column"),
        ({"edad": (2, 30)}, "outside the bounds"),
        ({"edad": (30, 0)}, "reversed"),
        ({"especie": (0, 1)}, "bounds apply to numbers"),
    ],
)
def test_bad_bounds_are_refused(
    tmp_path: Path, bounds: dict[str, tuple[float, float]], message: str
) -> None:
    frame, labels = table()
    model = encoded(OneHotEncoder()).fit(frame, labels)

    with pytest.raises(BundleError, match=message):
        saved(tmp_path, model, frame, bounds=bounds)
    assert not (tmp_path / "m").exists()


def test_integer_labels_stay_integers(tmp_path: Path) -> None:
    data = np.arange(20, dtype=float).reshape(10, 2)
    model = LogisticRegression().fit(data, np.arange(10) % 2)

    manifest = saved(tmp_path, model, data)

    assert manifest.classes == [0, 1]
    assert all(type(e.prediction) is int for e in manifest.examples)
