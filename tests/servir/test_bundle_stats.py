"""The statistics save_model records: per feature, reference distributions for drift (decile
edges and shares, category frequencies) and numeric training ranges, from `reference=` data
(by default the sample)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from servir.bundle import save_model
from servir.bundle.stats import numeric_reference
from servir.errors import BundleError
from shared_schemas.manifest import Manifest


def test_deciles_of_spread_values_hold_a_tenth_each() -> None:
    values = np.arange(100) + 0.5
    stats = numeric_reference(values)

    assert stats.median == 50.0
    assert stats.edges is not None
    assert len(stats.edges) == 11
    assert (stats.edges[0], stats.edges[-1]) == (0.5, 99.5)
    assert stats.edges == pytest.approx(np.quantile(values, np.linspace(0, 1, 11)).tolist())
    assert stats.proportions == pytest.approx([0.1] * 10)


def test_repeated_edges_merge() -> None:
    stats = numeric_reference(np.array([0.0] * 50 + [1.0] * 50))

    assert stats.edges == [0.0, 0.5, 1.0]
    assert stats.proportions == [0.5, 0.5]


def test_a_constant_is_one_bin() -> None:
    stats = numeric_reference(np.full(10, 3.0))

    assert (stats.median, stats.edges, stats.proportions) == (3.0, [3.0, 3.0], [1.0])


def pets(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "especie": rng.choice(["Gato", "Perro"], rows),
            "peso (kg)": rng.uniform(1, 30, rows),
            "vacunado": rng.integers(0, 2, rows).astype(bool),
        }
    )


def fitted(frame: pd.DataFrame) -> object:
    columns = ColumnTransformer(
        [("especie", OneHotEncoder(categories=[["Gato", "Perro", "Loro"]]), ["especie"])],
        remainder="passthrough",
    )
    labels = np.where(frame["peso (kg)"] > 15, "grande", "chico")
    return make_pipeline(columns, LogisticRegression()).fit(frame, labels)


def test_statistics_come_from_the_reference_data(tmp_path: Path) -> None:
    reference = pets(200, seed=1)
    model = fitted(reference)
    sample = reference[:10]

    folder = save_model(model, tmp_path / "m" / "1", sample=sample, name="m", reference=reference)

    manifest = Manifest.model_validate_json((folder / "manifest.json").read_bytes())
    assert manifest.reference is not None
    assert manifest.training_stats is not None
    weight = manifest.reference["peso_kg"]
    assert weight.median == pytest.approx(float(reference["peso (kg)"].median()))
    assert weight.edges is not None
    assert len(weight.edges) == 11
    assert weight.edges[0] == reference["peso (kg)"].min()
    assert sum(weight.proportions or []) == pytest.approx(1.0)
    species = manifest.reference["especie"].frequencies
    assert species == {
        "Gato": pytest.approx((reference["especie"] == "Gato").mean()),
        "Perro": pytest.approx((reference["especie"] == "Perro").mean()),
        "Loro": 0.0,
    }
    share = float(reference["vacunado"].mean())
    vaccinated = manifest.reference["vacunado"].frequencies or {}
    assert vaccinated.keys() == {"true", "false"}
    assert vaccinated["true"] == pytest.approx(share)
    assert vaccinated["false"] == pytest.approx(1 - share)
    training = manifest.training_stats
    assert set(training) == {"peso_kg"}
    assert training["peso_kg"].max == reference["peso (kg)"].max()
    assert training["peso_kg"].mean == pytest.approx(reference["peso (kg)"].mean())


def test_reference_data_must_have_the_sample_s_columns_and_types(tmp_path: Path) -> None:
    sample = pets(20, seed=2)
    model = fitted(sample)
    other = sample.assign(vacunado=sample["vacunado"].astype(int))

    with pytest.raises(BundleError, match="the reference lacks column"):
        save_model(model, tmp_path / "m", sample=sample, name="m", reference=sample[["especie"]])
    with pytest.raises(BundleError, match="the reference's 'vacunado' is a int"):
        save_model(model, tmp_path / "m", sample=sample, name="m", reference=other)
    assert list(tmp_path.iterdir()) == []
