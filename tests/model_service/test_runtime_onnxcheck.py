"""The compiled-model checker (runtimes/onnxcheck.py) on crafted ONNX files: standard operator
domains only, no external data, no local functions; a file skl2onnx writes passes."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from skl2onnx import to_onnx  # type: ignore[import-untyped]
from sklearn.ensemble import RandomForestClassifier

from model_service.runtimes.onnxcheck import UnsafeModel, check_model

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])
STANDARD = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]


def model_of(
    nodes: list[onnx.NodeProto],
    *,
    initializers: list[onnx.TensorProto] | None = None,
    opsets: list[onnx.OperatorSetIdProto] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "crafted", [X], [Y], initializer=initializers or [])
    return helper.make_model(graph, opset_imports=opsets or STANDARD)


def custom_domain_model() -> bytes:
    """A graph calling an operator of a custom domain (native code outside onnxruntime's
    vetted kernels, were such a library registered)."""
    node = helper.make_node("Steal", ["x"], ["y"], domain="com.example.evil")
    opsets = [*STANDARD, helper.make_opsetid("com.example.evil", 1)]
    data: bytes = model_of([node], opsets=opsets).SerializeToString()
    return data


def external_weights() -> onnx.TensorProto:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    weights.ClearField("float_data")
    weights.data_location = TensorProto.EXTERNAL
    entry = weights.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    return weights


def test_a_model_skl2onnx_writes_passes() -> None:
    rows = np.random.default_rng(0).uniform(size=(50, 2))
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(rows, rows[:, 0] > 0.5)
    model = to_onnx(forest, rows[:1].astype(np.float32), options={"zipmap": False})
    check_model(model.SerializeToString())


def test_a_plain_standard_graph_passes() -> None:
    check_model(model_of([helper.make_node("Identity", ["x"], ["y"])]).SerializeToString())


def test_a_custom_domain_node_is_refused() -> None:
    with pytest.raises(UnsafeModel, match=r"custom domain 'com\.example\.evil'"):
        check_model(custom_domain_model())


def test_a_custom_domain_in_the_opset_imports_alone_is_refused() -> None:
    opsets = [*STANDARD, helper.make_opsetid("com.microsoft", 1)]
    model = model_of([helper.make_node("Identity", ["x"], ["y"])], opsets=opsets)
    with pytest.raises(UnsafeModel, match=r"custom domain 'com\.microsoft'"):
        check_model(model.SerializeToString())


def test_a_custom_domain_inside_a_subgraph_is_refused() -> None:
    inner = helper.make_graph(
        [helper.make_node("Steal", ["x"], ["y"], domain="com.example.evil")], "inner", [], [Y]
    )
    branch = helper.make_node(
        "If", ["cond"], ["y"], then_branch=inner, else_branch=inner, name="branch"
    )
    with pytest.raises(UnsafeModel, match="custom domain"):
        check_model(model_of([branch]).SerializeToString())


def test_an_initializer_with_external_data_is_refused() -> None:
    node = helper.make_node("Add", ["x", "w"], ["y"])
    model = model_of([node], initializers=[external_weights()])
    with pytest.raises(UnsafeModel, match="external data"):
        check_model(model.SerializeToString())


def test_a_constant_with_external_data_is_refused() -> None:
    node = helper.make_node("Constant", [], ["y"], value=external_weights())
    with pytest.raises(UnsafeModel, match="external data"):
        check_model(model_of([node]).SerializeToString())


def test_local_functions_are_refused() -> None:
    function = helper.make_function(
        "local", "Twice", ["a"], ["b"], [helper.make_node("Identity", ["a"], ["b"])], STANDARD
    )
    model = model_of([helper.make_node("Twice", ["x"], ["y"], domain="local")])
    model.functions.append(function)
    with pytest.raises(UnsafeModel, match="functions"):
        check_model(model.SerializeToString())


@pytest.mark.parametrize("data", [b"", b"\xff\xff\xff", b"not a protobuf at all"])
def test_what_is_not_a_model_is_refused(data: bytes) -> None:
    with pytest.raises(UnsafeModel):
        check_model(data)
