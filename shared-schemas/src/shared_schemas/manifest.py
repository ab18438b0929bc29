"""`manifest.json` of a model bundle: what the model takes, what it was checked against, and how
the service must hand it rows.

A bundle is a folder (or a flat .tar.gz of it) holding `manifest.json` and the model file. The
`servir` SDK writes both (`servir.save_model`); the model-service reads nothing else.
"""

import re
import unicodedata
from itertools import pairwise
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from shared_schemas.base import Contract

ModelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
ModelVersion = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,8}$")]
FeatureType = Literal["float", "int", "bool", "category"]
Task = Literal["classification", "regression"]
Scalar = float | int | bool | str
Label = int | str | bool | float
# How the estimator takes its rows: a 2-D array in feature order, or a pandas DataFrame whose
# columns carry the names (and dtypes) it was fitted with (`feature_names_in_`).
InputFormat = Literal["ndarray", "dataframe"]
# What the model file is: a scikit-learn estimator (skops, or a pickle the operator allows), an
# XGBoost model in its own JSON or UBJSON format, or a LightGBM model in its text format.
Flavor = Literal["sklearn", "xgboost", "lightgbm"]
ModelFile = Literal[
    "model.skops", "model.joblib", "model.pkl", "model.json", "model.ubj", "model.txt"
]
FLAVOR_FILES: dict[Flavor, frozenset[str]] = {
    "sklearn": frozenset({"model.skops", "model.joblib", "model.pkl"}),
    "xgboost": frozenset({"model.json", "model.ubj"}),
    "lightgbm": frozenset({"model.txt"}),
}
# The pandas dtype of each feature type, for models fitted on a DataFrame (the service builds
# their input with it; the SDK checks a bundle's predictions through the same conversion).
FRAME_DTYPES: dict[FeatureType, str] = {
    "float": "float64",
    "int": "int64",
    "bool": "bool",
    "category": "object",
}
WIRE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_EXAMPLES = 100
MAX_BINS = 100


def wire_name(column: str) -> str:
    """A JSON-safe field name for a training column: `sepal length (cm)` -> `sepal_length_cm`,
    `año` -> `ano`, `x-1` -> `x_1`, `1st` -> `_1st`."""
    ascii_only = unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9]+", "_", ascii_only).strip("_") or "feature"
    if name[0].isdigit():
        name = f"_{name}"
    return name[:64]


class FeatureStats(Contract):
    """Training statistics of one feature, for the out-of-range counters."""

    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    frequencies: dict[str, float] | None = None


class ReferenceStats(Contract):
    """One feature's distribution in the reference data, for drift reports.

    Numbers: `edges` are the deciles' edges (min, p10 ... p90, max; repeated edges merged) and
    `proportions` the share of reference rows in each bin between them; `median` is what the
    documentation's examples show. Categories: `frequencies`, each category's share.
    """

    median: float | None = None
    edges: Annotated[list[float], Field(min_length=2, max_length=MAX_BINS + 1)] | None = None
    proportions: Annotated[list[float], Field(min_length=1, max_length=MAX_BINS)] | None = None
    frequencies: dict[str, float] | None = None

    @model_validator(mode="after")
    def _bins_match(self) -> Self:
        edges, shares = self.edges, self.proportions
        if (edges is None) != (shares is None):
            raise ValueError("edges and proportions come together")
        if edges is not None and shares is not None:
            if len(shares) != len(edges) - 1:
                raise ValueError("one proportion per bin: len(edges) - 1")
            if any(b < a for a, b in pairwise(edges)):
                raise ValueError("edges must not decrease")
        return self


class FeatureSpec(Contract):
    """One input feature of a model: its wire name, type and hard limits.

    `column` is the name the model was fitted with, when it is not a valid wire name
    (`sepal length (cm)`): requests use `name`, the model sees `column`.
    """

    name: Annotated[str, Field(pattern=WIRE_NAME)]
    type: FeatureType
    column: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    description: str | None = None
    min: float | None = None
    max: float | None = None
    categories: Annotated[list[str], Field(min_length=1, max_length=1000)] | None = None

    @property
    def model_column(self) -> str:
        """The column name the model was fitted with."""
        return self.column if self.column is not None else self.name


class Example(Contract):
    """One row and what the model answered for it when the bundle was made: the service
    refuses a bundle whose model answers otherwise (labels exactly, numbers within
    MODEL_EXAMPLE_TOLERANCE)."""

    inputs: dict[str, Scalar]
    prediction: Label
    probabilities: list[float] | None = None


class Manifest(Contract):
    """`manifest.json` of a model bundle.

    The estimator receives one column per feature, in this order: a 2-D array (float64, or
    object when a feature is a category) when `input_format` is `ndarray`, a DataFrame with the
    `column` names and the features' dtypes when it is `dataframe`. `sha256` is that of
    `model_file`, whose format `flavor` names; `trusted_types` are the types beyond skops'
    defaults the file may instantiate. `max_batch_size`/`max_wait_ms` override the service's
    batching settings for this model. `examples` are checked when the bundle loads; `reference`
    feeds drift reports.
    """

    name: ModelName
    version: ModelVersion
    task: Task
    description: str = ""
    input_format: InputFormat = "ndarray"
    features: Annotated[list[FeatureSpec], Field(min_length=1, max_length=10000)]
    classes: list[Label] | None = None
    training_stats: dict[str, FeatureStats] | None = None
    reference: dict[str, ReferenceStats] | None = None
    examples: Annotated[list[Example], Field(max_length=MAX_EXAMPLES)] = Field(default_factory=list)
    flavor: Flavor = "sklearn"
    model_file: ModelFile = "model.skops"
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    trusted_types: list[str] = Field(default_factory=list)
    max_batch_size: Annotated[int, Field(ge=1, le=100_000)] | None = None
    max_wait_ms: Annotated[float, Field(ge=0, le=1000)] | None = None

    @model_validator(mode="after")
    def _names_agree(self) -> Self:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        if self.model_file not in FLAVOR_FILES[self.flavor]:
            allowed = " or ".join(sorted(FLAVOR_FILES[self.flavor]))
            raise ValueError(f"a {self.flavor} model_file must be {allowed}")
        columns = [f.model_column for f in self.features]
        if len(set(columns)) != len(columns):
            raise ValueError("feature columns must be unique")
        known = set(names)
        for index, example in enumerate(self.examples):
            if set(example.inputs) != known:
                raise ValueError(f"examples[{index}] must give every feature, by name")
        unknown = set(self.reference or {}) - known
        if unknown:
            raise ValueError(f"reference names unknown features: {', '.join(sorted(unknown))}")
        return self
