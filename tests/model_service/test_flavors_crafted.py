"""Crafted XGBoost and LightGBM files: what their native loaders accept and then crash or hang
on is refused by Servir's checks before anything predicts.

The subprocess tests show the hazard itself: the library alone, in a process of its own, dies
on the same file (a segfault for XGBoost, an abort for LightGBM).
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_service.flavors import load_model
from model_service.models.bundles import BundleError
from tests.model_service import flavor_models as fm


def xgb_edited(change: str, value: object) -> bytes:
    """The iris XGBoost classifier as JSON, with one field of its first tree changed."""
    document = json.loads(fm.xgb_bytes(fm.xgb_classifier(), "json"))
    model = document["learner"]["gradient_booster"]["model"]
    if change == "tree_info":
        model["tree_info"][0] = value
    else:
        field, _, position = change.partition("[")
        model["trees"][0][field][int(position.rstrip("]"))] = value
    return json.dumps(document).encode()


def lgb_edited(key: str, value: str, tree: int = 0) -> bytes:
    """The iris LightGBM classifier's text with one line of one tree replaced."""
    lines = fm.lgb_bytes(fm.lgb_classifier()).decode().split("\n")
    start = lines.index(f"Tree={tree}")
    at = next(i for i in range(start, len(lines)) if lines[i].startswith(f"{key}="))
    lines[at] = f"{key}={value}"
    return "\n".join(lines).encode()


def refused(flavor: str, data: bytes, reason: str) -> None:
    with pytest.raises(BundleError, match=reason):
        load_model(
            fm.manifest(
                flavor, data, 4, fm.IRIS_CLASSES, "model.json" if flavor == "xgboost" else None
            ),
            data,
        )


@pytest.mark.parametrize(
    ("change", "value", "reason"),
    [
        ("left_children[0]", 50, "a branch leads outside the tree's"),
        ("left_children[0]", 0, "a branch leads outside the tree's"),
        ("right_children[0]", 1, "a node is reached by two branches"),
        ("right_children[1]", 2, "a node has one branch"),
        ("split_indices[0]", 4, "a split reads feature 4, beyond the 4"),
        # XGBoost refuses this one itself, cleanly.
        ("split_type[0]", 1, "is not an XGBoost model Servir can serve: XGBoostError"),
        ("tree_info", 3, "tree_info"),
    ],
)
def test_a_crafted_xgboost_tree_is_refused(change: str, value: object, reason: str) -> None:
    refused("xgboost", xgb_edited(change, value), reason)


def test_lightgbm_text_with_a_crafted_tree_is_refused() -> None:
    tree = fm.lgb_bytes(fm.lgb_classifier()).decode().split("Tree=0\n")[1].split("\n\n")[0]
    fields = dict(line.split("=", 1) for line in tree.split("\n"))
    inner = len(fields["left_child"].split(" "))
    assert inner >= 2, "the first tree must have two splits or more"
    wrong = " ".join(["5000"] * inner)
    cases = {
        ("left_child", wrong): "a branch leads outside the tree's",
        ("left_child", " ".join(["0"] * inner)): "a branch leads outside the tree's",
        ("right_child", fields["left_child"]): "reached by two branches",
        ("split_feature", " ".join(["9"] * inner)): "a split reads feature 9, beyond the 4",
        ("decision_type", " ".join(["1"] * inner)): "not a numerical split",
        ("num_cat", "1"): "categorical splits or linear leaves",
        ("is_linear", "1"): "categorical splits or linear leaves",
        ("leaf_value", "1 2"): "leaf_value must hold",
        ("threshold", "1 x"): "threshold must hold",
        ("num_leaves", "200000"): "num_leaves must be between 1 and",
    }
    for (key, value), reason in cases.items():
        refused("lightgbm", lgb_edited(key, value), reason)


def test_lightgbm_text_that_is_not_key_value_is_refused() -> None:
    text = fm.lgb_bytes(fm.lgb_classifier()).decode()
    # LightGBM's tree parser looks for `=` without an end: past the text, on a line without one.
    refused("lightgbm", text.replace("shrinkage=", "shrinkage", 1).encode(), "is not key=value")
    duplicated = text.replace("num_leaves=", "leaf_value=1\nnum_leaves=", 1).encode()
    refused("lightgbm", duplicated, "leaf_value is given twice")
    refused("lightgbm", text.replace("num_class=3", "num_class=5", 1).encode(), "num_class and")
    refused("lightgbm", text.replace("\n", "\r\n").encode(), "carriage returns")


def test_lightgbm_text_with_wrong_tree_sizes_loads_as_its_trees_say() -> None:
    model = fm.lgb_classifier()
    data = lying_tree_sizes()
    loaded = load_model(fm.manifest("lightgbm", data, 4, fm.IRIS_CLASSES), data)
    rows = fm.fresh_rows(fm.iris()[0])
    assert loaded.predict(rows).tolist() == np.asarray(model.predict(rows)).tolist()


def lying_tree_sizes() -> bytes:
    text = fm.lgb_bytes(fm.lgb_classifier()).decode()
    line = next(line for line in text.split("\n") if line.startswith("tree_sizes="))
    sizes = [int(size) for size in line.removeprefix("tree_sizes=").split(" ")]
    sizes[0] += 1
    return text.replace(line, "tree_sizes=" + " ".join(map(str, sizes))).encode()


# The library alone, in a child process: how each crafted file ends there.
NATIVE_XGBOOST = """
import sys, numpy, xgboost
booster = xgboost.Booster()
booster.load_model(bytearray(open(sys.argv[1], "rb").read()))
booster.inplace_predict(numpy.ones((4, 4)))
"""
NATIVE_LIGHTGBM = """
import sys, lightgbm
lightgbm.Booster(model_str=open(sys.argv[1]).read())
"""


def run_native(code: str, data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "model"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, check=False)
    return done.returncode


def test_xgboost_alone_crashes_on_a_child_outside_the_tree(tmp_path: Path) -> None:
    data = xgb_edited("left_children[0]", 50)
    assert run_native(NATIVE_XGBOOST, data, tmp_path) == -signal.SIGSEGV


def test_lightgbm_alone_aborts_on_wrong_tree_sizes(tmp_path: Path) -> None:
    assert run_native(NATIVE_LIGHTGBM, lying_tree_sizes(), tmp_path) == -signal.SIGABRT
