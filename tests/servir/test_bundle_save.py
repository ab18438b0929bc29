"""servir.save_model writes bundles the model-service loads and serves as the model answers in
memory: a Pipeline fitted on a DataFrame (served a DataFrame named as fitted), an ndarray model,
a regressor. Real scikit-learn, real files, the service's own loader and request path."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_service.config import Settings
from model_service.models.bundles import Bundle, load_bundle
from model_service.models.examples import check_predictions
from model_service.models.schemas import build_schemas
from servir.bundle import save_model
from shared_schemas.manifest import Manifest

ROWS = 40


def pets(rows: int = ROWS, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The issue's table: a category, a column named `peso (kg)` and one named `año`."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "especie": rng.choice(["Gato", "Perro"], rows),
            "peso (kg)": rng.uniform(1, 30, rows).round(2),
            "año": rng.integers(2000, 2024, rows),
        }
    )
    labels = np.where(
        frame["peso (kg)"] + (frame["especie"] == "Perro") * 5 > 15, "grande", "chico"
    )
    return frame, labels


def pets_pipeline(classifier: Any) -> Pipeline:
    prepare = ColumnTransformer(
        [
            ("especie", OneHotEncoder(), ["especie"]),
            ("numbers", StandardScaler(), ["peso (kg)", "año"]),
        ]
    )
    return Pipeline([("prepare", prepare), ("classify", classifier)])


def served(folder: Path, models_dir: Path) -> Bundle:
    """The bundle as the model-service loads and verifies it."""
    bundle = load_bundle(folder, Settings(models_dir=models_dir))
    check_predictions(bundle, tolerance=1e-6)
    return bundle


def predict_as_service(bundle: Bundle, rows: list[dict[str, Any]]) -> np.ndarray:
    """Requests' rows (JSON, wire names) through the service's typed model and conversion."""
    schemas = build_schemas(bundle.manifest, max_rows=len(rows))
    instances = [schemas.instance.model_validate_json(json.dumps(row)) for row in rows]
    return np.asarray(bundle.estimator.predict(schemas.model_input(schemas.to_array(instances))))


def wire_rows(frame: pd.DataFrame, manifest: Manifest) -> list[dict[str, Any]]:
    return [
        {f.name: record[f.model_column] for f in manifest.features}
        for record in json.loads(frame.to_json(orient="records"))
    ]


def test_a_dataframe_pipeline_is_served_as_fitted(tmp_path: Path) -> None:
    frame, labels = pets()
    model = pets_pipeline(LogisticRegression()).fit(frame, labels)
    shuffled = frame[["año", "especie", "peso (kg)"]]  # columns are matched by name

    folder = save_model(model, tmp_path / "mascotas" / "1", sample=shuffled, name="mascotas")

    bundle = served(folder, tmp_path)
    manifest = bundle.manifest
    assert manifest.input_format == "dataframe"
    assert manifest.task == "classification"
    assert manifest.classes == ["chico", "grande"]
    assert [(f.name, f.column, f.type) for f in manifest.features] == [
        ("especie", None, "category"),
        ("peso_kg", "peso (kg)", "float"),
        ("ano", "año", "int"),
    ]
    assert manifest.features[0].categories == ["Gato", "Perro"]
    assert all(f.min is None and f.max is None for f in manifest.features)
    answered = predict_as_service(bundle, wire_rows(frame, manifest))
    assert answered.tolist() == model.predict(frame).tolist()


def test_a_forest_needs_only_the_tree_type_the_service_allows(tmp_path: Path) -> None:
    frame, labels = pets()
    model = pets_pipeline(RandomForestClassifier(n_estimators=5, random_state=0))
    model.fit(frame, labels)

    folder = save_model(model, tmp_path / "bosque" / "3", sample=frame, name="bosque", version="3")

    bundle = served(folder, tmp_path)
    assert bundle.manifest.trusted_types == ["sklearn.tree._tree.Tree"]
    answered = predict_as_service(bundle, wire_rows(frame, bundle.manifest))
    assert answered.tolist() == model.predict(frame).tolist()


def iris_like(rows: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    labels = np.array(["setosa", "versicolor", "virginica"])[np.arange(rows) % 3]
    centres = (np.arange(rows) % 3)[:, None] * 1.5
    return centres + rng.normal(0, 0.4, (rows, 4)), labels


def test_an_ndarray_model_gets_an_array_with_x_names(tmp_path: Path) -> None:
    data, labels = iris_like()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data, labels)

    folder = save_model(model, tmp_path / "lirios" / "1", sample=data, name="lirios")

    bundle = served(folder, tmp_path)
    manifest = bundle.manifest
    assert manifest.input_format == "ndarray"
    assert [f.name for f in manifest.features] == ["x0", "x1", "x2", "x3"]
    assert all(f.type == "float" and f.column is None for f in manifest.features)
    rows = [dict(zip(["x0", "x1", "x2", "x3"], row, strict=True)) for row in data.tolist()]
    assert predict_as_service(bundle, rows).tolist() == model.predict(data).tolist()


def test_examples_record_the_first_rows_and_their_answers(tmp_path: Path) -> None:
    frame, labels = pets()
    model = pets_pipeline(LogisticRegression()).fit(frame, labels)

    folder = save_model(model, tmp_path / "m" / "1", sample=frame, name="m", examples=3)

    manifest = Manifest.model_validate_json((folder / "manifest.json").read_bytes())
    assert len(manifest.examples) == 3
    first = manifest.examples[0]
    assert first.inputs == {
        "especie": frame["especie"][0],
        "peso_kg": frame["peso (kg)"][0],
        "ano": int(frame["año"][0]),
    }
    assert type(first.inputs["ano"]) is int
    assert [e.prediction for e in manifest.examples] == model.predict(frame[:3]).tolist()
    probabilities = [e.probabilities or [] for e in manifest.examples]
    assert np.allclose(probabilities, model.predict_proba(frame[:3]))


def test_a_regressor_records_numbers_and_no_classes(tmp_path: Path) -> None:
    data, _ = iris_like()
    target = data @ np.array([1.0, -2.0, 0.5, 3.0])
    model = LinearRegression().fit(data, target)

    folder = save_model(model, tmp_path / "r" / "1", sample=data[:20], name="r", examples=2)

    bundle = served(folder, tmp_path)
    assert bundle.manifest.task == "regression"
    assert bundle.manifest.classes is None
    assert np.allclose([e.prediction for e in bundle.manifest.examples], model.predict(data[:2]))
    assert all(e.probabilities is None for e in bundle.manifest.examples)


def test_the_manifest_is_indented_json_and_the_model_matches_its_digest(tmp_path: Path) -> None:
    data, labels = iris_like()
    model = LogisticRegression().fit(data, labels)

    folder = save_model(model, tmp_path / "x" / "1", sample=data, name="x", description="Lirios.")

    text = (folder / "manifest.json").read_text()
    assert text.startswith('{\n  "name": "x"')
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.skops"]
    assert not [p for p in folder.parent.iterdir() if p.name != "1"]  # no staging left behind
    assert Manifest.model_validate_json(text).description == "Lirios."


def test_every_feature_type_is_served_as_saved(tmp_path: Path) -> None:
    frame, _ = pets()
    frame["vacunado"] = frame["año"] % 2 == 0
    labels = np.where(frame["vacunado"], "al día", "pendiente")
    prepare = ColumnTransformer(
        [("especie", OneHotEncoder(), ["especie"])], remainder=StandardScaler()
    )
    model = make_pipeline(prepare, LogisticRegression()).fit(frame, labels)

    folder = save_model(model, tmp_path / "todo" / "1", sample=frame, name="todo")

    bundle = served(folder, tmp_path)
    kinds = [f.type for f in bundle.manifest.features]
    assert kinds == ["category", "float", "int", "bool"]
    answered = predict_as_service(bundle, wire_rows(frame, bundle.manifest))
    assert answered.tolist() == model.predict(frame).tolist()
