"""The categories a fitted model's encoders learnt, per input column.

A OneHotEncoder or OrdinalEncoder inside a Pipeline or a ColumnTransformer knows each category
column's values (`categories_`); they are the categories a request may send. The walk follows
only what maps input columns one to one: a ColumnTransformer's column selections, a Pipeline's
first steps up to the first one that changes the columns.
"""

from typing import Any

import numpy as np

# Steps that keep their input columns as they are (one output column per input column).
COLUMN_PRESERVING = ("SimpleImputer", "StandardScaler", "MinMaxScaler", "MaxAbsScaler")


def encoder_categories(model: Any, columns: list[str]) -> dict[str, list[str]]:
    """Column name -> the text categories an encoder inside `model` learnt for it."""
    found: dict[str, list[str]] = {}
    _walk(model, columns, found)
    return found


def _walk(step: Any, columns: list[str], found: dict[str, list[str]]) -> None:
    kind = type(step).__name__
    if kind == "Pipeline":
        for _, inner in step.steps:
            if isinstance(inner, str) or inner is None:  # "passthrough"
                continue
            _walk(inner, columns, found)
            if not _preserves_columns(inner):
                return
    elif kind == "ColumnTransformer":
        for _, inner, selection in getattr(step, "transformers_", []):
            if not isinstance(inner, str):  # "drop" and "passthrough" hold nothing
                _walk(inner, _selected(selection, columns), found)
    elif hasattr(step, "categories_"):
        _record(step, columns, found)


def _preserves_columns(step: Any) -> bool:
    name = type(step).__name__
    if name == "SimpleImputer":
        return not getattr(step, "add_indicator", False)
    return name in COLUMN_PRESERVING


def _record(encoder: Any, columns: list[str], found: dict[str, list[str]]) -> None:
    # An encoder fitted on a DataFrame knows its columns' names; else they come by position.
    names = getattr(encoder, "feature_names_in_", None)
    known = [str(name) for name in names] if names is not None else columns
    learnt = list(encoder.categories_)
    if len(known) != len(learnt):
        return
    for name, values in zip(known, learnt, strict=True):
        text = [value for value in values.tolist() if isinstance(value, str)]
        if text and name not in found:
            found[name] = text


def _selected(selection: Any, columns: list[str]) -> list[str]:
    """The input columns a ColumnTransformer selection names (names, positions, mask, slice)."""
    if isinstance(selection, str | int):
        selection = [selection]
    if isinstance(selection, slice):
        return columns[_positions(selection, columns)]
    picked = np.asarray(selection)
    if picked.dtype == bool:
        return [name for name, keep in zip(columns, picked.tolist(), strict=False) if keep]
    out: list[str] = []
    for item in picked.tolist():
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, int) and -len(columns) <= item < len(columns):
            out.append(columns[item])
    return out


def _positions(selection: slice, columns: list[str]) -> slice:
    # A slice of names includes its end, as pandas' .loc does.
    start, stop = selection.start, selection.stop
    if isinstance(start, str):
        start = columns.index(start) if start in columns else len(columns)
    if isinstance(stop, str):
        stop = columns.index(stop) + 1 if stop in columns else 0
    return slice(start, stop, selection.step)
