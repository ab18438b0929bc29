"""Inference contracts: the friendly JSON API, the Open Inference Protocol v2, the repository."""

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from shared_schemas.base import WHOLE_NUMBER, Contract
from shared_schemas.manifest import FeatureSpec, Label, ModelName, ModelVersion, Scalar, Task


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
    # Alias -> version; `production` is the version the unversioned routes serve.
    aliases: dict[str, str] = Field(default_factory=dict)
    # Aliases any caller with models:predict may call directly (`/models/{name}@{alias}/...`);
    # the others need models:admin. `production` is always public.
    public_aliases: list[str] = Field(default_factory=list)


RuntimeName = Literal["sklearn", "onnxruntime", "xgboost", "lightgbm"]


class RuntimeInfo(Contract):
    """What runs a version's predictions: the compiled runtime (`onnxruntime`) when the model
    converts and its answers agree with the original's, else the model's own library, with
    `reason` saying why. `max_difference` is the largest difference measured between the two
    on the verification rows (probabilities or regression values)."""

    name: RuntimeName
    reason: str | None = None
    max_difference: float | None = None


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
    # The most rows one request may carry (MODEL_MAX_ROWS): send more in chunks.
    max_rows: int
    # Alias -> version; `production` is the version the unversioned routes serve.
    aliases: dict[str, str] = Field(default_factory=dict)
    # Aliases any caller with models:predict may call directly; the others need models:admin.
    public_aliases: list[str] = Field(default_factory=list)
    # What runs the shown version's predictions (None from services older than runtimes).
    runtime: RuntimeInfo | None = None


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


RepositoryAction = Literal["load", "unload", "delete", "alias", "traffic"]
# A model's alias: a name pointing at one of its versions (`production` serves by default).
AliasName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
IndexState = Literal["READY", "UNAVAILABLE"]


class RepositoryEvent(Contract):
    """A change one replica made to the shared store, published for the others.

    `version` None means every version of `name`. `origin` is the publishing replica's id: a
    replica ignores its own events (it applied the change before publishing). An `alias` event
    says `alias` of `name` now points at `version` (None: removed); Redis holds the aliases, so
    a replica reads them back from there rather than trusting the event's order.
    """

    action: RepositoryAction
    name: ModelName
    version: ModelVersion | None = None
    origin: str
    alias: AliasName | None = None


class AliasRequest(Contract):
    """`PUT /models/{name}/aliases/{alias}` body: the version the alias points at (loaded), and
    whether callers with models:predict may call it directly (`production` always may)."""

    version: ModelVersion
    public: bool = False


# `principal`, or the name of a request header whose value keeps a caller on one version.
StickyBy = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
TrafficWeight = Annotated[int, Field(ge=0, le=100)]


class ShadowSpec(Contract):
    """A version that receives a sampled copy of the split's requests: its answers are
    compared with the served ones, counted, and dropped."""

    version: ModelVersion
    sample_rate: Annotated[float, Field(gt=0, le=1)]


class TrafficSplit(Contract):
    """`PUT /models/{name}/traffic` body and `GET` answer: how the model's unversioned routes
    share requests between loaded versions (integer weights summing to 100). `sticky_by`
    keeps a caller on one version: `principal` (the authenticated caller), or a header the
    operator names (its value); null draws every request afresh. `shadow` copies a sample of
    them to another version of the same features, whose answers the caller never sees."""

    split: Annotated[dict[ModelVersion, TrafficWeight], Field(min_length=1, max_length=16)]
    sticky_by: StickyBy | None = None
    shadow: ShadowSpec | None = None

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> "TrafficSplit":
        if sum(self.split.values()) != 100:
            raise ValueError(f"the weights sum to {sum(self.split.values())}, not 100")
        return self


class RepositoryIndexRequest(Contract):
    """`POST /v2/repository/index` body (optional): `ready` lists only the ready versions."""

    ready: bool = False


class RepositoryIndexEntry(Contract):
    """One bundle of the store in the Open Inference Protocol repository index."""

    name: str
    version: str
    state: IndexState
    reason: str
