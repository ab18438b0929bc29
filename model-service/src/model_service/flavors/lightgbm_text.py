"""LightGBM's text format, read and checked here before LightGBM's own parser sees any of it.

LightGBM's parser trusts its input: a tree's line without `=` makes it read past the end of
the text, a wrong `tree_sizes` aborts the process (an error thrown inside its OpenMP loop), a
child index outside the tree hangs or crashes the first prediction, and a split on a feature
beyond `max_feature_idx` writes outside an array when the model is written back. So the text is
parsed here, every tree's structure checked (trees.py), and LightGBM is handed a text written
anew from what was checked, in its own layout, with the keys prediction needs and nothing else.
"""

import re
from dataclasses import dataclass

import numpy as np

from model_service.flavors.trees import check_children, check_features, check_leaves
from model_service.models import bundles

INTEGER = re.compile(r"-?[0-9]{1,10}\Z")
NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z|[-+]?(?:inf|nan)\Z")
OBJECTIVE_PART = re.compile(r"[a-z_]{1,64}(?::[-+0-9.eE]{1,32})?\Z")
# LightGBM's own bound on num_leaves.
MAX_LEAVES = 131_072
HEADER = ("version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx")
LISTS = ("feature_names", "feature_infos")
# A tree's keys that prediction reads, in the order LightGBM writes them.
SPLIT_KEYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
DEFAULT_LEFT, MISSING_NAN = 2, 8


@dataclass(frozen=True)
class TextModel:
    """A checked LightGBM model: its header values and trees, as text tokens."""

    header: dict[str, str]
    trees: list[dict[str, str]]

    @property
    def objective(self) -> str:
        return self.header["objective"].split(" ")[0]

    @property
    def classes(self) -> int:
        return int(self.header["num_class"])

    @property
    def features(self) -> int:
        return int(self.header["max_feature_idx"]) + 1

    def text(self) -> str:
        """The model in LightGBM's layout, `tree_sizes` counted from what is written."""
        blocks = [
            f"Tree={index}\n" + "".join(f"{key}={value}\n" for key, value in tree.items()) + "\n\n"
            for index, tree in enumerate(self.trees)
        ]
        keys = [
            *HEADER,
            "objective",
            *(["average_output"] if "average_output" in self.header else []),
        ]
        lines = ["tree", *(_line(key, self.header[key]) for key in keys)]
        lines += [f"{key}={self.header[key]}" for key in LISTS]
        lines.append("tree_sizes=" + " ".join(str(len(block.encode())) for block in blocks))
        return "\n".join(lines) + "\n\n" + "".join(blocks) + "end of trees\n"


def _line(key: str, value: str) -> str:
    return key if key == "average_output" else f"{key}={value}"


def fail(reason: str) -> bundles.BundleError:
    return bundles.BundleError(f"model.txt is not a LightGBM model Servir can serve: {reason}")


def read_text(data: bytes) -> TextModel:
    """Parse and check LightGBM's text format; BundleError says what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("it is not UTF-8 text") from None
    if "\r" in text or "\0" in text:
        raise fail("it holds carriage returns or NUL characters")
    head, _, rest = text.partition("\nTree=")
    header = _header(head.split("\n"))
    body, end, _ = rest.partition("\nend of trees")
    if not end:  # a file cut short may still end between two trees
        raise fail("it lacks the `end of trees` line: is it complete?")
    trees = (
        [_tree(index, block) for index, block in enumerate(body.split("\nTree="))] if rest else []
    )
    model = TextModel(header, [])
    if not trees or len(trees) % model.classes:
        raise fail(f"it holds {len(trees)} trees, not a multiple of num_class ({model.classes})")
    for index, tree in enumerate(trees):
        _check_tree(tree, model.features, f"tree {index}")
    return TextModel(header, trees)


def _pairs(lines: list[str], where: str) -> dict[str, str]:
    """`key=value` lines; a key twice is refused (which one would LightGBM take?)."""
    pairs: dict[str, str] = {}
    for line in lines:
        key, equals, value = line.partition("=")
        if not equals and key != "average_output":
            raise fail(f"{where}: the line {line[:40]!r} is not key=value")
        if key in pairs:
            raise fail(f"{where}: {key} is given twice")
        pairs[key] = value
    return pairs


def _header(lines: list[str]) -> dict[str, str]:
    if not lines or lines[0] != "tree":
        raise fail("it does not start with LightGBM's `tree` line")
    pairs = _pairs([line for line in lines[1:] if line], "the header")
    missing = [key for key in (*HEADER, "objective", *LISTS) if key not in pairs]
    if missing:
        raise fail(f"the header lacks {', '.join(missing)}")
    for key in HEADER[1:]:
        if not INTEGER.match(pairs[key]):
            raise fail(f"{key} is not an integer")
    classes, features = int(pairs["num_class"]), int(pairs["max_feature_idx"]) + 1
    if not 1 <= classes <= 10_000 or int(pairs["num_tree_per_iteration"]) != classes:
        raise fail("num_class and num_tree_per_iteration must be equal, between 1 and 10000")
    if features < 1:
        raise fail("max_feature_idx is negative")
    for key in LISTS:
        if len(pairs[key].split(" ")) != features or "" in pairs[key].split(" "):
            raise fail(f"{key} must hold max_feature_idx + 1 names, one space apart")
    if not all(OBJECTIVE_PART.match(part) for part in pairs["objective"].split(" ")):
        raise fail("the objective line is not `name param:value ...`")
    return pairs


def _tree(index: int, block: str) -> dict[str, str]:
    first, _, rest = block.partition("\n")
    if first != str(index):
        raise fail(f"tree {index} is numbered {first[:20]!r}")
    lines, _, after = rest.partition("\n\n")
    if after.strip("\n"):
        raise fail(f"tree {index} is followed by something other than the next tree")
    given = _pairs(lines.split("\n"), f"tree {index}")
    if given.get("num_cat", "0") != "0" or given.get("is_linear", "0") != "0":
        raise fail(f"tree {index} has categorical splits or linear leaves, not supported yet")
    if not INTEGER.match(given.get("num_leaves", "")):
        raise fail(f"tree {index} has no integer num_leaves")
    keys = ("num_leaves", *(SPLIT_KEYS if given["num_leaves"] != "1" else ()), "leaf_value")
    missing = [key for key in keys if key not in given]
    if missing:
        raise fail(f"tree {index} lacks {', '.join(missing)}")
    tree = {key: given[key] for key in keys}
    tree.update(num_cat="0", is_linear="0", shrinkage=given.get("shrinkage", "1"))
    return tree


def _numbers(
    tree: dict[str, str], key: str, count: int, pattern: re.Pattern[str], where: str
) -> np.ndarray:
    tokens = tree[key].split(" ") if count else []
    if len(tokens) != count or not all(pattern.match(token) for token in tokens):
        raise fail(f"{where}: {key} must hold {count} numbers")
    kind = np.int64 if pattern is INTEGER else np.float64
    return np.array(tokens, dtype=kind) if count else np.zeros(0, kind)


def _check_tree(tree: dict[str, str], features: int, where: str) -> None:
    leaves = int(tree["num_leaves"])
    if not 1 <= leaves <= MAX_LEAVES:
        raise fail(f"{where}: num_leaves must be between 1 and {MAX_LEAVES}")
    values = _numbers(tree, "leaf_value", leaves, NUMBER, where)
    if not np.isfinite(values).all() or not NUMBER.match(tree["shrinkage"]):
        raise fail(f"{where}: its leaf values must be finite numbers")
    if leaves == 1:
        return
    _numbers(tree, "threshold", leaves - 1, NUMBER, where)
    kinds = _numbers(tree, "decision_type", leaves - 1, INTEGER, where)
    # Numerical splits only: no categorical bit, a known missing-value rule (none, zero, NaN).
    if ((kinds & ~(DEFAULT_LEFT | 12)) != 0).any() or ((kinds & 12) > MISSING_NAN).any():
        raise fail(f"{where}: a split's decision_type is not a numerical split")
    check_features(_numbers(tree, "split_feature", leaves - 1, INTEGER, where), features, where)
    children = np.concatenate(
        [_numbers(tree, side, leaves - 1, INTEGER, where) for side in ("left_child", "right_child")]
    )
    check_children(children[children >= 0], leaves - 1, where)
    check_leaves(~children[children < 0], leaves, where)
