"""What a compiled model may hold before onnxruntime parses it: operators of the standard
domains only (`""` and `ai.onnx.ml`; a custom domain names native code outside onnxruntime's
vetted kernels), no external data (a tensor whose bytes live in another file, which the runtime
would open by a path the file chooses), no local functions and no training information.

The file is parsed with a schema of only the fields checked (their numbers as in `onnx.proto`,
IR version 10) by protobuf's native parser, which skips the rest: the serving process checks a
file without importing the `onnx` package (about a second), and a forest's hundreds of
thousands of node attributes are never looked at one by one in Python.
"""

from functools import cache
from typing import Any

ALLOWED_DOMAINS = frozenset({"", "ai.onnx.ml"})
MAX_DEPTH = 16  # subgraphs in subgraphs (If, Loop, Scan): converted models have none
EXTERNAL = 1
# message -> (field name, number, type, label, message type): the fields the checks read.
OPTIONAL, REPEATED = 1, 3
INT32, BYTES, MESSAGE = 5, 12, 11
SCHEMA: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Model": [
        ("graph", 7, MESSAGE, OPTIONAL, "Graph"),
        ("opset_import", 8, MESSAGE, REPEATED, "Opset"),
        ("training_info", 20, BYTES, REPEATED, ""),
        ("functions", 25, BYTES, REPEATED, ""),
    ],
    "Opset": [("domain", 1, BYTES, OPTIONAL, "")],
    "Graph": [
        ("node", 1, MESSAGE, REPEATED, "Node"),
        ("initializer", 5, MESSAGE, REPEATED, "Tensor"),
        ("sparse_initializer", 15, MESSAGE, REPEATED, "Sparse"),
    ],
    "Node": [
        ("attribute", 5, MESSAGE, REPEATED, "Attribute"),
        ("domain", 7, BYTES, OPTIONAL, ""),
    ],
    "Attribute": [
        ("t", 5, MESSAGE, OPTIONAL, "Tensor"),
        ("g", 6, MESSAGE, OPTIONAL, "Graph"),
        ("tensors", 10, MESSAGE, REPEATED, "Tensor"),
        ("graphs", 11, MESSAGE, REPEATED, "Graph"),
        ("sparse_tensor", 22, MESSAGE, OPTIONAL, "Sparse"),
        ("sparse_tensors", 23, MESSAGE, REPEATED, "Sparse"),
    ],
    "Tensor": [
        ("external_data", 13, BYTES, REPEATED, ""),
        ("data_location", 14, INT32, OPTIONAL, ""),
    ],
    "Sparse": [
        ("values", 1, MESSAGE, OPTIONAL, "Tensor"),
        ("indices", 2, MESSAGE, OPTIONAL, "Tensor"),
    ],
}
PACKAGE = "servir.onnxcheck"


class UnsafeModel(Exception):
    """A compiled model that must not be loaded; the message says why."""


@cache
def _model_class() -> Any:
    """The message class of the checked subset of ModelProto, in a pool of its own."""
    # Imported here: only a replica checking a compiled model pays for protobuf.
    from google.protobuf import (  # type: ignore[import-untyped]  # noqa: PLC0415
        descriptor_pb2,
        descriptor_pool,
        message_factory,
    )

    schema = descriptor_pb2.FileDescriptorProto(
        name="servir_onnxcheck.proto", package=PACKAGE, syntax="proto2"
    )
    for message, fields in SCHEMA.items():
        described = schema.message_type.add(name=message)
        for name, number, kind, label, of in fields:
            field = described.field.add(name=name, number=number, type=kind, label=label)
            if of:
                field.type_name = f".{PACKAGE}.{of}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(schema)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.Model"))


def _check_domain(domain: bytes) -> None:
    name = domain.decode("utf-8", "replace")
    if name not in ALLOWED_DOMAINS:
        raise UnsafeModel(f"the compiled model uses operators of the custom domain {name!r}")


def _check_tensor(tensor: Any) -> None:
    if tensor.external_data or tensor.data_location == EXTERNAL:
        raise UnsafeModel("the compiled model refers to external data files")


def _check_sparse(sparse: Any) -> None:
    _check_tensor(sparse.values)
    _check_tensor(sparse.indices)


def _check_graph(graph: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnsafeModel(f"the compiled model nests subgraphs deeper than {MAX_DEPTH}")
    for tensor in graph.initializer:
        _check_tensor(tensor)
    for sparse in graph.sparse_initializer:
        _check_sparse(sparse)
    for node in graph.node:
        _check_domain(node.domain)
        for attribute in node.attribute:
            for tensor in [attribute.t, *attribute.tensors]:
                _check_tensor(tensor)
            for sparse in [attribute.sparse_tensor, *attribute.sparse_tensors]:
                _check_sparse(sparse)
            for subgraph in [
                *([attribute.g] if attribute.HasField("g") else []),
                *attribute.graphs,
            ]:
                _check_graph(subgraph, depth + 1)


def check_model(model: bytes) -> None:
    """Raise UnsafeModel unless `model` (a serialized ModelProto) holds only what may load."""
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # noqa: PLC0415

    parsed = _model_class()()
    try:
        parsed.ParseFromString(model)
    except DecodeError:
        raise UnsafeModel("the compiled model is not a valid ONNX file") from None
    except RecursionError:  # messages nested past protobuf's own limit
        raise UnsafeModel("the compiled model nests too deeply") from None
    if parsed.functions:
        raise UnsafeModel("the compiled model defines local functions")
    if parsed.training_info:
        raise UnsafeModel("the compiled model holds training information")
    if not parsed.HasField("graph"):
        raise UnsafeModel("the compiled model has no graph")
    for opset in parsed.opset_import:
        _check_domain(opset.domain)
    _check_graph(parsed.graph, 0)
