"""Inference contracts: bundle manifests, the friendly JSON API, the Open Inference Protocol v2."""

from typing import Annotated, Any, Literal

from pydantic import Field

from shared_schemas.base import WHOLE_NUMBER, Contract

ModelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
ModelVersion = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,8}$")]
FeatureType = Literal["float", "int", "bool", "category"]
Task = Literal["classification", "regression"]
Scalar = float | int | bool | str
Label = int | str | bool | float


class FeatureStats(Contract):
    """Training statistics of one feature, for drift counters."""

    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    frequencies: dict[str, float] | None = None


class FeatureSpec(Contract):
    """One input feature of a model: its type and hard limits."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    type: FeatureType
    description: str | None = None
    min: float | None = None
    max: float | None = None
    categories: Annotated[list[str], Field(min_length=1, max_length=1000)] | None = None


ModelFile = Literal["model.skops", "model.joblib", "model.pkl"]


class Manifest(Contract):
    """`manifest.json` of a model bundle.

    The estimator receives a 2-D array with one column per feature, in this order: float64, or
    object when a feature is a category. `sha256` is that of `model_file`; `trusted_types` are
    the types beyond skops' defaults the file may instantiate. `max_batch_size`/`max_wait_ms`
    override the service's batching settings for this model.
    """

    name: ModelName
    version: ModelVersion
    task: Task
    description: str = ""
    features: Annotated[list[FeatureSpec], Field(min_length=1, max_length=10000)]
    classes: list[Label] | None = None
    training_stats: dict[str, FeatureStats] | None = None
    model_file: ModelFile = "model.skops"
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    trusted_types: list[str] = Field(default_factory=list)
    max_batch_size: Annotated[int, Field(ge=1, le=100_000)] | None = None
    max_wait_ms: Annotated[float, Field(ge=0, le=1000)] | None = None


class PredictRequest(Contract):
    """`POST /models/{name}/predict` body before the model's own typed validation."""

    instances: Annotated[list[dict[str, Scalar]], Field(min_length=1)]
    return_probabilities: bool = False


class PredictResponse(Contract):
    """`POST /models/{name}/predict` answer."""

    model: str
    version: str
    predictions: list[Label]
    probabilities: list[list[float]] | None = None
    classes: list[Label] | None = None


class ModelSummary(Contract):
    """One entry of `GET /models`."""

    name: str
    versions: list[str]
    default_version: str | None
    task: Task
    description: str


class ModelMetadata(Contract):
    """`GET /models/{name}`."""

    name: str
    versions: list[str]
    default_version: str | None
    task: Task
    description: str
    features: list[FeatureSpec]
    classes: list[Label] | None = None
    input_schema: dict[str, Any]


V2Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip
Parameters = dict[str, str | int | float | bool]
TensorData = list[Any]


class V2ServerMetadata(Contract):
    """`GET /v2`."""

    name: str
    version: str
    extensions: list[str]


class V2TensorMetadata(Contract):
    """A tensor as model metadata describes it (`-1` is a variable dimension)."""

    name: str
    datatype: V2Datatype
    shape: list[int]


class V2ModelMetadata(Contract):
    """`GET /v2/models/{name}[/versions/{version}]`."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2RequestInput(Contract):
    """One input tensor of an inference request (data absent when sent as binary)."""

    name: str
    shape: list[Annotated[int, Field(ge=0), WHOLE_NUMBER]]
    datatype: V2Datatype
    parameters: Parameters | None = None
    data: TensorData | None = None


class V2RequestOutput(Contract):
    """An output the client asks for."""

    name: str
    parameters: Parameters | None = None


class V2InferenceRequest(Contract):
    """`POST /v2/models/{name}/infer` body."""

    id: Annotated[str, Field(max_length=256)] | None = None
    parameters: Parameters | None = None
    inputs: Annotated[list[V2RequestInput], Field(min_length=1)]
    outputs: list[V2RequestOutput] | None = None


class V2ResponseOutput(Contract):
    """One output tensor of an inference response."""

    name: str
    shape: list[int]
    datatype: V2Datatype
    parameters: Parameters | None = None
    data: TensorData | None = None


class V2InferenceResponse(Contract):
    """`POST /v2/models/{name}/infer` answer."""

    model_name: str
    model_version: str | None = None
    id: str
    parameters: Parameters | None = None
    outputs: list[V2ResponseOutput]


RepositoryAction = Literal["load", "unload", "delete"]
IndexState = Literal["READY", "UNAVAILABLE"]


class RepositoryEvent(Contract):
    """A change one replica made to the shared store, published for the others.

    `version` None means every version of `name`. `origin` is the publishing replica's id: a
    replica ignores its own events (it applied the change before publishing).
    """

    action: RepositoryAction
    name: ModelName
    version: ModelVersion | None = None
    origin: str


class RepositoryIndexRequest(Contract):
    """`POST /v2/repository/index` body (optional): `ready` lists only the ready versions."""

    ready: bool = False


class RepositoryIndexEntry(Contract):
    """One bundle of the store in the Open Inference Protocol repository index."""

    name: str
    version: str
    state: IndexState
    reason: str
