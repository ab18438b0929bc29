"""Valid rows decoded straight into the estimator's array: the fast check before the schema.

Validating one generated Pydantic object per row, then reading its attributes back into an
array, costs tens of microseconds a row. Here msgspec decodes the own form's bytes (or converts
the rows of the other forms) into one generated struct per model, checking in the same pass
what the model's schema checks: every feature present and no other, the types (strict: no bool
for a number, no string for anything but a category), the bounds (so finite, and inside
float32's range), the categories, the number of rows. Whatever it refuses goes to the per-row
Pydantic validation (models/schemas.py), so a refusal names the row and the field exactly as it
always did; this check only ever refuses more (3.0 for an int feature, an integer past int64),
never less. The array is the one `ModelSchemas.to_array` builds from the validated objects: the
same dtype, the same values, the same Python types in a category model's object array.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from math import ceil, floor
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from shared_schemas.manifest import FeatureSpec

INT64 = (-(2**63), 2**63 - 1)  # msgspec bounds an int only within int64
Bounds = Callable[[FeatureSpec], tuple[float, float]]


@dataclass(frozen=True)
class RowColumns:
    """One model's request struct, and how its rows become the estimator's array."""

    request: type[msgspec.Struct]
    decoder: msgspec.json.Decoder[Any]
    getter: Callable[[Any], Any]
    width: int
    dtype: type

    def decode(self, body: bytes) -> tuple[np.ndarray, bool] | None:
        """An own-form body's rows and `return_probabilities`; None unless surely valid."""
        try:
            request = self.decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        return self._array(request.instances), request.return_probabilities

    def convert(self, rows: list[dict[str, Any]], proba: Any) -> tuple[np.ndarray, bool] | None:
        """Rows by wire name (MLflow's forms, CSV) likewise; None unless surely valid."""
        try:
            request: Any = msgspec.convert(
                {"instances": rows, "return_probabilities": proba}, self.request, strict=True
            )
        except msgspec.ValidationError:
            return None
        return self._array(request.instances), request.return_probabilities

    def _array(self, instances: list[Any]) -> np.ndarray:
        cells = map(self.getter, instances)  # a tuple per row; the value itself for one feature
        if self.dtype is object or len(instances) == 1:  # one row: np.array is quicker
            array: np.ndarray = np.array(list(cells), dtype=self.dtype)
        else:  # straight into the array, no list of rows between (half the time)
            flat = chain.from_iterable(cells) if self.width > 1 else cells
            array = np.fromiter(flat, dtype=np.float64, count=len(instances) * self.width)
        return array.reshape(len(instances), self.width)


def _annotation(feature: FeatureSpec, bounds: Bounds) -> Any:
    if feature.type == "category":
        return Literal[tuple(feature.categories or ())]
    if feature.type == "bool":
        return bool
    low, high = bounds(feature)
    if feature.type == "int":
        limits = msgspec.Meta(ge=max(ceil(low), INT64[0]), le=min(floor(high), INT64[1]))
        return Annotated[int, limits]
    return Annotated[float, msgspec.Meta(ge=low, le=high)]


def row_columns(
    prefix: str, features: Sequence[FeatureSpec], bounds: Bounds, *, max_rows: int
) -> RowColumns:
    """The struct of a model's requests; `bounds(feature)` gives a number feature's limits."""
    # Attributes get plain names of their own; the wire name is the field's encoded name.
    fields = [
        (f"f{index}", _annotation(feature, bounds), msgspec.field(name=feature.name))
        for index, feature in enumerate(features)
    ]
    row = msgspec.defstruct(f"{prefix}Row", fields, forbid_unknown_fields=True)
    rows = Annotated[list[row], msgspec.Meta(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    request = msgspec.defstruct(
        f"{prefix}Rows",
        [("instances", rows), ("return_probabilities", bool, False)],
        forbid_unknown_fields=True,
    )
    categorical = any(feature.type == "category" for feature in features)
    return RowColumns(
        request=request,
        decoder=msgspec.json.Decoder(request),
        getter=attrgetter(*(f"f{index}" for index in range(len(features)))),
        width=len(features),
        dtype=object if categorical else np.float64,
    )
