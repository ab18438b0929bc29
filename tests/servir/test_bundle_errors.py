"""save_model refuses what cannot serve with a clear BundleError, before anything is written;
and it never overwrites a folder by surprise."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from servir.bundle import save_model
from servir.errors import BundleError


def fitted() -> tuple[Any, pd.DataFrame]:
    frame = pd.DataFrame({"especie": ["Gato", "Perro"] * 4, "edad": [1.0, 5, 3, 8, 2, 7, 4, 6]})
    columns = ColumnTransformer(
        [("especie", OneHotEncoder(), ["especie"])], remainder="passthrough"
    )
    model = make_pipeline(columns, LogisticRegression()).fit(frame, ["a", "b"] * 4)
    return model, frame


def refused(tmp_path: Path, model: Any, sample: Any, match: str, **options: Any) -> None:
    with pytest.raises(BundleError, match=match):
        save_model(model, tmp_path / "m" / "1", sample=sample, **{"name": "m", **options})
    assert list(tmp_path.iterdir()) == []


class NoPredict:
    def fit(self, data: Any, labels: Any) -> "NoPredict":
        return self


def test_a_model_without_predict(tmp_path: Path) -> None:
    refused(tmp_path, NoPredict(), np.zeros((2, 2)), "has no predict method")


def test_a_sample_with_missing_values(tmp_path: Path) -> None:
    model, frame = fitted()
    frame.loc[3, "edad"] = np.nan
    refused(tmp_path, model, frame, r"missing values .*'edad' \(1\)")


def test_an_empty_sample(tmp_path: Path) -> None:
    model, frame = fitted()
    refused(tmp_path, model, frame.iloc[:0], "the sample is empty")


def test_a_datetime_column(tmp_path: Path) -> None:
    model, frame = fitted()
    frame["edad"] = pd.date_range("2020-01-01", periods=len(frame))
    refused(tmp_path, model, frame, "'edad' of the sample is datetime64")


def test_a_column_the_model_was_fitted_on_is_missing(tmp_path: Path) -> None:
    model, frame = fitted()
    refused(tmp_path, model, frame[["edad"]], "lacks column.*'especie'")


def test_numbers_among_categories(tmp_path: Path) -> None:
    model, frame = fitted()
    frame["especie"] = pd.Series(["Gato", 3] * 4, dtype=object)
    refused(tmp_path, model, frame, "holds int values")


def test_a_sample_of_the_wrong_width_or_kind(tmp_path: Path) -> None:
    model = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    refused(tmp_path, model, np.zeros((2, 3)), "has 3 column.*fitted on 4")
    refused(tmp_path, model, np.zeros(4), "must be 2-D")
    refused(tmp_path, model, [[0, 0, 0, 0]], "must be a pandas DataFrame or a numpy ndarray")


def test_a_bad_name_or_version(tmp_path: Path) -> None:
    model, frame = fitted()
    refused(tmp_path, model, frame, "invalid at name", name="Mi Modelo")
    with pytest.raises(BundleError, match="invalid at version"):
        save_model(model, tmp_path / "m" / "0", sample=frame, name="m", version="0")


def test_a_model_that_cannot_predict_its_sample(tmp_path: Path) -> None:
    model, frame = fitted()
    frame["especie"] = ["Loro"] * len(frame)  # unknown to an encoder that refuses unknowns
    refused(tmp_path, model, frame, "the model cannot predict the sample: ValueError")


def test_a_folder_in_use_is_refused_unless_overwrite(tmp_path: Path) -> None:
    model, frame = fitted()
    target = tmp_path / "m" / "1"
    save_model(model, target, sample=frame, name="m")
    before = (target / "manifest.json").read_bytes()

    with pytest.raises(BundleError, match="not empty; pass overwrite=True"):
        save_model(model, target, sample=frame, name="m", description="again")
    assert (target / "manifest.json").read_bytes() == before

    save_model(model, target, sample=frame, name="m", description="again", overwrite=True)
    assert b'"description": "again"' in (target / "manifest.json").read_bytes()
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "model.skops"]
    assert [p.name for p in target.parent.iterdir()] == ["1"]


def test_overwrite_never_replaces_a_folder_holding_other_files(tmp_path: Path) -> None:
    model, frame = fitted()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match=r"holds files that are not a bundle's \(notes.txt\)"):
        save_model(model, tmp_path, sample=frame, name="m", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    model, frame = fitted()
    save_model(model, tmp_path, sample=frame, name="m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "model.skops"]


def test_a_text_column_with_too_many_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [f"cliente-{i}" for i in range(1001)], "edad": range(1001)})
    model = DummyClassifier().fit(frame, [0, 1] * 500 + [0])
    refused(tmp_path, model, frame, r"column 'id' cannot be a feature: categories: .*at most 1000")
