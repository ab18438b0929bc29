"""A model fitted on a pandas DataFrame, as a data scientist brings one: a ColumnTransformer
selecting columns by name (a OneHotEncoder on `especie`, a StandardScaler on `peso (kg)` and
`edad`) before a LogisticRegression; `peso (kg)` travels as `peso_kg` on the wire."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_service.demo_models import write_bundle

NAME = "mascotas"
SPECIES = ["Gato", "Perro"]
FEATURES: list[dict[str, Any]] = [
    {"name": "especie", "type": "category", "categories": SPECIES},
    {"name": "peso_kg", "column": "peso (kg)", "type": "float", "min": 0.0, "max": 100.0},
    {"name": "edad", "type": "int", "min": 0, "max": 30},
]


def training_frame(rows: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    """Pets and whether each needs a diet: heavy for its species and old enough."""
    rng = np.random.default_rng(13)
    species = rng.choice(SPECIES, rows)
    weight = np.where(species == "Gato", rng.normal(4.5, 1.2, rows), rng.normal(20, 6, rows))
    age = rng.integers(0, 16, rows)
    heavy = weight > np.where(species == "Gato", 5.0, 24.0)
    labels = np.where(heavy & (age > 2), "dieta", "normal")
    frame = pd.DataFrame({"especie": species, "peso (kg)": weight.clip(0.5), "edad": age})
    return frame, labels


def pipeline() -> Pipeline:
    """The pipeline, fitted on `training_frame`."""
    frame, labels = training_frame()
    encode = ColumnTransformer(
        [
            ("especie", OneHotEncoder(categories=[SPECIES]), ["especie"]),
            ("numbers", StandardScaler(), ["peso (kg)", "edad"]),
        ]
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000))])
    return model.fit(frame, labels)


def write_frame_bundle(models_dir: Path) -> Pipeline:
    """The pipeline's bundle (`input_format: dataframe`) under models_dir; the pipeline."""
    model = pipeline()
    write_bundle(
        models_dir,
        name=NAME,
        estimator=model,
        manifest={
            "task": "classification",
            "description": "Whether a pet needs a diet (a DataFrame-fitted pipeline).",
            "input_format": "dataframe",
            "features": FEATURES,
            "classes": [str(label) for label in model.classes_],
        },
    )
    return model
