"""The components of OpenAPI documents being merged: added under free names, the `$ref`s
pointing to them rewritten, the unreferenced ones dropped. Pure functions over JSON-like dicts."""

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

Document = dict[str, Any]

REF_PREFIX: Final = "#/components/"


def add_components(into: Document, incoming: Document, *, prefix: str) -> dict[str, str]:
    """Add `incoming` components; a name already taken by a different one gets `prefix`.

    Returns the renames as `{old ref: new ref}`. A component equal to the one already there
    is shared, unless it refers to a renamed one (then it differs once rewritten).
    """
    taken = {_ref(section, key): value for section, key, value in _components(into)}
    offered = {_ref(section, key): value for section, key, value in _components(incoming)}
    clashing = {ref for ref, value in offered.items() if ref in taken and taken[ref] != value}
    while True:
        more = {
            ref
            for ref, value in offered.items()
            if ref in taken and ref not in clashing and refs(value) & clashing
        }
        if not more:
            break
        clashing |= more
    renames = {ref: _free_ref(ref, prefix, taken.keys() | offered.keys()) for ref in clashing}
    for ref, value in offered.items():
        if ref in taken and ref not in clashing:
            continue
        section, key = renames.get(ref, ref).removeprefix(REF_PREFIX).split("/", 1)
        added = into.setdefault(section, {})[key] = copy.deepcopy(value)
        rewrite_refs(added, renames)
    return renames


def _components(components: Document) -> Iterator[tuple[str, str, Any]]:
    for section, entries in components.items():
        if isinstance(entries, dict):
            for key, value in entries.items():
                yield section, key, value


def _ref(section: str, key: str) -> str:
    return f"{REF_PREFIX}{section}/{key}"


def _free_ref(ref: str, prefix: str, used: set[str]) -> str:
    section, key = ref.removeprefix(REF_PREFIX).split("/", 1)
    candidate, number = _ref(section, prefix + key), 2
    while candidate in used:
        candidate, number = _ref(section, f"{prefix}{number}{key}"), number + 1
    used.add(candidate)
    return candidate


def refs(node: Any) -> set[str]:
    """Every `$ref` under `node`."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


def rewrite_refs(node: Any, renames: Mapping[str, str]) -> None:
    """Point each renamed `$ref` under `node` to its new name, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                node[key] = renames.get(value, value)
            else:
                rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            rewrite_refs(value, renames)


def prune(document: Document) -> None:
    """Drop the components nothing public refers to (e.g. the upstreams' internal ones)."""
    components: Document = document["components"]
    reached: set[str] = set()
    todo = refs(document["paths"])
    while todo:
        ref = todo.pop()
        reached.add(ref)
        section, _, key = ref.removeprefix(REF_PREFIX).partition("/")
        todo |= refs(components.get(section, {}).get(key)) - reached
    for section, entries in list(components.items()):
        if section != "securitySchemes" and isinstance(entries, dict):
            components[section] = {
                key: value for key, value in entries.items() if _ref(section, key) in reached
            }
