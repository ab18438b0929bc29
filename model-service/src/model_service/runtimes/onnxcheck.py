"""What a compiled model may hold before onnxruntime parses it: operators of the standard
domains only (`""` and `ai.onnx.ml`; a custom domain names native code outside onnxruntime's
vetted kernels), no external data (a tensor whose bytes live in another file, which the runtime
would open by a path the file chooses), no local functions and no training information.

Read straight from the protobuf wire format (`onnx.proto`'s field numbers below), so the
serving process checks a file without importing the `onnx` package (about a second).
"""

ALLOWED_DOMAINS = frozenset({"", "ai.onnx.ml"})
MAX_DEPTH = 16  # subgraphs in subgraphs (If, Loop, Scan): converted models have none
# Field numbers of onnx.proto (ONNX IR version 10).
MODEL_GRAPH, MODEL_OPSET, MODEL_TRAINING, MODEL_FUNCTIONS = 7, 8, 20, 25
OPSET_DOMAIN = 1
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_SPARSE = 1, 5, 15
NODE_ATTRIBUTE, NODE_DOMAIN = 5, 7
ATTR_TENSOR, ATTR_GRAPH, ATTR_TENSORS, ATTR_GRAPHS = 5, 6, 10, 11
ATTR_SPARSE, ATTR_SPARSES = 22, 23
SPARSE_VALUES, SPARSE_INDICES = 1, 2
TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 13, 14
EXTERNAL = 1


class UnsafeModel(Exception):
    """A compiled model that must not be loaded; the message says why."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise UnsafeModel("the compiled model is not a valid protobuf")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of one message: varints as ints, length-delimited as bytes."""
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            found.append((number, value))
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        elif wire == 2:
            size, at = _varint(data, at)
            found.append((number, data[at : at + size]))
            at += size
        else:
            raise UnsafeModel("the compiled model is not a valid protobuf")
    if at != len(data):
        raise UnsafeModel("the compiled model is not a valid protobuf")
    return found


def _messages(data: bytes, number: int) -> list[bytes]:
    return [v for n, v in _fields(data) if n == number and isinstance(v, bytes)]


def _check_domain(domain: bytes) -> None:
    name = domain.decode("utf-8", "replace")
    if name not in ALLOWED_DOMAINS:
        raise UnsafeModel(f"the compiled model uses operators of the custom domain {name!r}")


def _check_tensor(tensor: bytes) -> None:
    for number, value in _fields(tensor):
        if number == TENSOR_EXTERNAL_DATA or (number == TENSOR_DATA_LOCATION and value == EXTERNAL):
            raise UnsafeModel("the compiled model refers to external data files")


def _check_sparse(sparse: bytes) -> None:
    for number, value in _fields(sparse):
        if number in (SPARSE_VALUES, SPARSE_INDICES) and isinstance(value, bytes):
            _check_tensor(value)


def _check_attribute(attribute: bytes, depth: int) -> None:
    for number, value in _fields(attribute):
        if not isinstance(value, bytes):
            continue
        if number in (ATTR_TENSOR, ATTR_TENSORS):
            _check_tensor(value)
        elif number in (ATTR_SPARSE, ATTR_SPARSES):
            _check_sparse(value)
        elif number in (ATTR_GRAPH, ATTR_GRAPHS):
            _check_graph(value, depth + 1)


def _check_graph(graph: bytes, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnsafeModel(f"the compiled model nests subgraphs deeper than {MAX_DEPTH}")
    for number, value in _fields(graph):
        if not isinstance(value, bytes):
            continue
        if number == GRAPH_INITIALIZER:
            _check_tensor(value)
        elif number == GRAPH_SPARSE:
            _check_sparse(value)
        elif number == GRAPH_NODE:
            for field, content in _fields(value):
                if field == NODE_DOMAIN and isinstance(content, bytes):
                    _check_domain(content)
                elif field == NODE_ATTRIBUTE and isinstance(content, bytes):
                    _check_attribute(content, depth)


def check_model(model: bytes) -> None:
    """Raise UnsafeModel unless `model` (a serialized ModelProto) holds only what may load."""
    fields = _fields(model)
    numbers = {number for number, _ in fields}
    if MODEL_FUNCTIONS in numbers:
        raise UnsafeModel("the compiled model defines local functions")
    if MODEL_TRAINING in numbers:
        raise UnsafeModel("the compiled model holds training information")
    if MODEL_GRAPH not in numbers:
        raise UnsafeModel("the compiled model has no graph")
    for number, value in fields:
        if number == MODEL_OPSET and isinstance(value, bytes):
            for field, domain in _fields(value):
                if field == OPSET_DOMAIN and isinstance(domain, bytes):
                    _check_domain(domain)
        elif number == MODEL_GRAPH and isinstance(value, bytes):
            _check_graph(value, 0)
