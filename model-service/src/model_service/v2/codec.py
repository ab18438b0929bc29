"""The Open Inference Protocol's wire forms: JSON tensors and the binary tensor data extension.

Binary extension (as Triton defines it): with `Inference-Header-Content-Length: n` the first n
bytes of the body are the JSON request and the rest are the inputs' raw bytes, in input order,
each input saying its length in `parameters.binary_data_size`; little-endian, row-major; a BYTES
element is a 4-byte little-endian length then the bytes. Responses mirror it for outputs asked
with `binary_data` (or the request's `binary_data_output`).
"""

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from math import prod
from typing import Any

import numpy as np
import orjson

from model_service.v2.request import Tensor
from model_service.v2.tensors import NUMERIC_DATATYPES, BadTensor
from servir_runtime.bodies import byte_count
from servir_runtime.problems import ServiceError

HEADER_LENGTH = "inference-header-content-length"
BINARY_MEDIA_TYPE = "application/octet-stream"
JSON_MEDIA_TYPE = "application/json"
_LENGTH = struct.Struct("<I")


class UnsupportedEncoding(ServiceError):
    """A compressed request body: 415."""

    status = 415
    title = "Unsupported Media Type"


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """The JSON header and the binary tensor bytes that follow it (empty without the header)."""
    if header_length is None:
        return body, memoryview(b"")
    size = byte_count(header_length)
    if size is None or not 0 < size <= len(body):
        raise BadTensor(
            f"Inference-Header-Content-Length must be a byte count within the body's "
            f"{len(body)} bytes; got {header_length[:40]!r}."
        )
    return body[:size], memoryview(body)[size:]


def binary_parts(inputs: Sequence[Tensor], binary: memoryview) -> list[memoryview | None]:
    """Each input's slice of the binary section (None for a JSON input); lengths must add up."""
    parts: list[memoryview | None] = []
    offset = 0
    for tensor in inputs:
        size = (tensor.parameters or {}).get("binary_data_size")
        if size is None:
            parts.append(None)
            continue
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise BadTensor(
                f"Input {tensor.name}: binary_data_size {size!r} does not fit the "
                f"{len(binary) - offset} binary bytes left in the body."
            )
        parts.append(binary[offset : offset + size])
        offset += size
    if offset != len(binary):
        raise BadTensor(f"The body has {len(binary) - offset} binary bytes no input claims.")
    return parts


def tensor_array(tensor: Tensor, part: memoryview | None) -> np.ndarray:
    """The input's values as an array of its shape: numbers, or str for BYTES."""
    if (part is None) == (tensor.data is None):
        raise BadTensor(
            f"Input {tensor.name} needs exactly one of `data` and `parameters.binary_data_size`."
        )
    count = prod(tensor.shape)
    if tensor.datatype == "BYTES":
        flat = _decode_strings(part, count) if part is not None else _json_strings(tensor.data)
    elif tensor.datatype == "BOOL":
        flat = _bools(tensor, part)
    elif (dtype := NUMERIC_DATATYPES.get(tensor.datatype)) is None:
        raise BadTensor(f"Input {tensor.name}: datatype {tensor.datatype} is not accepted.")
    else:
        if part is not None and len(part) != count * dtype.itemsize:
            raise BadTensor(
                f"Input {tensor.name}: shape {tensor.shape} of {tensor.datatype} takes "
                f"{count * dtype.itemsize} bytes; binary_data_size is {len(part)}."
            )
        flat = np.frombuffer(part, dtype=dtype) if part is not None else _json_numbers(tensor)
    if flat.size != count:
        raise BadTensor(f"Input {tensor.name}: shape {tensor.shape} needs {count} values.")
    return flat.reshape(tensor.shape)


def _json_numbers(tensor: Tensor) -> np.ndarray:
    try:
        values = np.asarray(tensor.data)
    except ValueError:  # ragged nesting
        raise BadTensor(f"Input {tensor.name}: `data` is not a regular array.") from None
    # Integers only for INT64 (no silent truncation); numbers, not true/false, for floats
    # (numpy turns true among numbers into 1, so booleans are looked for in the data itself).
    dtype = NUMERIC_DATATYPES[tensor.datatype]
    kinds = "i" if dtype.kind in "iu" else "if"
    if values.dtype.kind not in kinds or _holds_bool(tensor.data) or not _fits(values, dtype):
        raise BadTensor(f"Input {tensor.name}: `data` must hold {tensor.datatype} numbers only.")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, refused later
        return values.astype(dtype).ravel()


def _fits(values: np.ndarray, dtype: np.dtype[Any]) -> bool:
    """Whether JSON integers fit an integer datatype (a cast would wrap them silently)."""
    if dtype.kind not in "iu" or values.size == 0:
        return True
    limits = np.iinfo(dtype)
    return bool(values.min() >= limits.min and values.max() <= limits.max)


def _bools(tensor: Tensor, part: memoryview | None) -> np.ndarray:
    """A BOOL input: JSON true/false, or one byte of 0 or 1 each."""
    if part is not None:
        raw = np.frombuffer(part, dtype=np.uint8)
        if bool((raw > 1).any()):
            raise BadTensor(f"Input {tensor.name}: BOOL bytes must be 0 or 1.")
        return raw.astype(bool)
    values = np.asarray(tensor.data)
    if values.dtype.kind != "b":
        raise BadTensor(f"Input {tensor.name}: BOOL `data` must hold true or false only.")
    return values.ravel()


def _holds_bool(data: Any) -> bool:
    """Whether a JSON array holds true or false at any depth."""
    kinds = set(map(type, data))
    return bool in kinds or (
        list in kinds and any(_holds_bool(item) for item in data if type(item) is list)
    )


def _json_strings(data: list[Any] | None) -> np.ndarray:
    try:
        values = np.asarray(data)
    except ValueError:
        raise BadTensor("BYTES `data` is not a regular array.") from None
    if values.dtype.kind != "U":
        raise BadTensor("BYTES `data` must hold strings only.")
    return values.ravel()


def _decode_strings(part: memoryview, count: int) -> np.ndarray:
    values: list[str] = []
    offset = 0
    while offset < len(part) and len(values) < count:
        if offset + _LENGTH.size > len(part):
            break
        (length,) = _LENGTH.unpack_from(part, offset)
        start, offset = offset + _LENGTH.size, offset + _LENGTH.size + length
        if offset > len(part):
            break
        try:
            values.append(bytes(part[start:offset]).decode("utf-8"))
        except UnicodeDecodeError:
            raise BadTensor(f"BYTES element {len(values)} is not UTF-8.") from None
    if offset != len(part) or len(values) != count:
        raise BadTensor(f"The BYTES binary data does not hold exactly {count} elements.")
    return np.array(values, dtype=str)


_DATATYPES = {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}  # by numpy dtype kind
_WIRE = {"INT64": "<i8", "FP64": "<f8", "BOOL": "?"}


@dataclass(frozen=True)
class OutputTensor:
    """One output to send: its values and whether they go as binary."""

    name: str
    values: np.ndarray
    binary: bool

    @cached_property
    def datatype(self) -> str:
        """The protocol datatype of `values`."""
        return _DATATYPES.get(self.values.dtype.kind, "BYTES")

    def flat(self) -> np.ndarray:
        """Row-major values in the wire dtype (str for BYTES)."""
        wire = _WIRE.get(self.datatype)
        if wire is None:
            return self.values.astype(str).ravel()
        return np.ascontiguousarray(self.values.ravel(), dtype=wire)

    def raw(self) -> bytes:
        """The binary form."""
        flat = self.flat()
        if self.datatype != "BYTES":
            return flat.tobytes()
        encoded = [value.encode() for value in flat.tolist()]
        return b"".join(_LENGTH.pack(len(item)) + item for item in encoded)


def render(head: dict[str, Any], outputs: Sequence[OutputTensor]) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers (content type, binary header length when binary)."""
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for output in outputs:
        entry: dict[str, Any] = {
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.values.shape),
        }
        if output.binary:
            blobs.append(output.raw())
            entry["parameters"] = {"binary_data_size": len(blobs[-1])}
        else:
            flat = output.flat()
            entry["data"] = flat.tolist() if output.datatype == "BYTES" else flat
        entries.append(entry)
    header = orjson.dumps({**head, "outputs": entries}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, {"content-type": JSON_MEDIA_TYPE}
    headers = {"content-type": BINARY_MEDIA_TYPE, HEADER_LENGTH: str(len(header))}
    return header + b"".join(blobs), headers
