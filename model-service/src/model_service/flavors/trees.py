"""The structure of one decision tree, checked before compiled code walks it.

XGBoost and LightGBM load a tree's arrays as the file gives them and trust them when they
predict: a child index outside the tree reads (or writes) outside its arrays and crashes the
process, one that points back up loops forever, and a feature index beyond the row reads
outside it. Both were seen with crafted files (a segfault for XGBoost, a hang for LightGBM).
"""

import numpy as np

from model_service.models import bundles


def check_children(children: np.ndarray, nodes: int, where: str) -> None:
    """`children`: the node each branch leads to, for the branches that lead to a node (not to
    a leaf). From the root (node 0), every branch must lead inside the tree and no node may be
    reached twice: the nodes reached then form a tree, and every walk from the root ends."""
    if children.size and (children.min() < 1 or children.max() >= nodes):
        raise bundles.BundleError(f"{where}: a branch leads outside the tree's {nodes} nodes")
    if children.size and np.bincount(children, minlength=nodes).max() > 1:
        raise bundles.BundleError(f"{where}: a node is reached by two branches")


def check_leaves(targets: np.ndarray, leaves: int, where: str) -> None:
    """Each leaf a branch names is one of the tree's `leaves`, reached once."""
    if targets.size and (targets.min() < 0 or targets.max() >= leaves):
        raise bundles.BundleError(f"{where}: a branch leads outside the tree's {leaves} leaves")
    if targets.size and np.bincount(targets, minlength=leaves).max() > 1:
        raise bundles.BundleError(f"{where}: a leaf is reached by two branches")


def check_features(features: np.ndarray, count: int, where: str) -> None:
    """Every split reads one of the model's `count` features."""
    if features.size and (features.min() < 0 or features.max() >= count):
        raise bundles.BundleError(
            f"{where}: a split reads feature {int(features.max())}, beyond the {count} the "
            "model takes"
        )
