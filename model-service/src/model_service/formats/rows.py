"""MLflow's scoring protocol bodies, as `mlflow models serve` takes them at `/invocations`,
turned into rows by wire name for the model's own schema to validate.

- `{"dataframe_split": {"columns": [...], "data": [[...]], "index": [...]}}`: pandas' split
  orient (without `columns`, each row lists the features in the model's order);
- `{"dataframe_records": [{...}, ...]}`: one object per row;
- `{"instances": [...]}`: rows as objects, or as lists in feature order (a lone value for a
  model of one feature);
- `{"inputs": {"feature": [...], ...}}` columns by name, or `{"inputs": [...]}` rows as above;
- `params`, when present, must be empty: no model served here takes any.

A feature may be named by its wire name or by the column the model was fitted with.
"""

from typing import Any

from model_service.errors import InvalidInput
from model_service.formats.names import FeatureNames
from shared_schemas.problems import FieldError

FORMS = ("dataframe_split", "dataframe_records", "instances", "inputs")
SPLIT_KEYS = frozenset({"columns", "data", "index"})
Loc = list[str | int]
Row = dict[str, Any]


def refuse(loc: Loc, msg: str, kind: str = "value_error") -> InvalidInput:
    """A 422 naming where in the body the problem is."""
    where = ".".join(str(part) for part in loc[1:]) or "the body"
    error = FieldError(loc=loc, msg=msg, type=kind)
    return InvalidInput(f"The request does not fit the model: {where}: {msg}.", errors=[error])


def form_of(payload: dict[str, Any], allowed: frozenset[str]) -> str:
    """The one MLflow form the body holds; 422 for none, several, or an unknown key."""
    unknown = [key for key in payload if key not in FORMS and key not in allowed]
    if unknown:
        known = ", ".join([*FORMS, *sorted(allowed)])
        raise refuse(
            ["body", unknown[0]], f"unknown key; the body takes {known}", "extra_forbidden"
        )
    forms = [key for key in FORMS if key in payload]
    if len(forms) != 1:
        raise refuse(["body"], f"send exactly one of {', '.join(FORMS)}; got {len(forms)}")
    params = payload.get("params")
    if params is not None and params != {}:
        raise refuse(["body", "params"], "this model takes no params; send none or {}")
    return forms[0]


def rows_of(form: str, value: Any, names: FeatureNames, max_rows: int) -> tuple[list[Row], Loc]:
    """The rows of `value` (the body's `form` entry) by wire name, and where they are."""
    where: Loc = ["body", form]
    if form == "dataframe_split":
        return _split(value, names, max_rows), [*where, "data"]
    if form == "inputs" and isinstance(value, dict):
        return _columnar(value, names, max_rows), where
    rows = _row_list(value, where, max_rows)
    if form == "dataframe_records":
        return [_named(row, names, [*where, i]) for i, row in enumerate(rows)], where
    return [_any_row(row, names, [*where, i]) for i, row in enumerate(rows)], where


def _row_list(value: Any, loc: Loc, max_rows: int) -> list[Any]:
    if not isinstance(value, list):
        raise refuse(loc, "must be a list of rows", "list_type")
    if not value:
        raise refuse(loc, "needs at least one row", "too_short")
    if len(value) > max_rows:
        raise refuse(loc, f"at most {max_rows} rows per request", "too_long")
    return value


def _split(value: Any, names: FeatureNames, max_rows: int) -> list[Row]:
    loc: Loc = ["body", "dataframe_split"]
    if not isinstance(value, dict):
        raise refuse(loc, "must be an object with columns, data and index", "dict_type")
    for key in value:
        if key not in SPLIT_KEYS:
            raise refuse([*loc, key], "unknown key; columns, data, index", "extra_forbidden")
    if not isinstance(value.get("index", []), list):
        raise refuse([*loc, "index"], "must be a list", "list_type")
    # Absent `columns`: rows in feature order; present, even null, it must name them.
    given = "columns" in value
    wire = columns(value["columns"], names, [*loc, "columns"]) if given else names.wire
    data = _row_list(value.get("data"), [*loc, "data"], max_rows)
    return [_listed(row, wire, [*loc, "data", i]) for i, row in enumerate(data)]


def columns(given: Any, names: FeatureNames, loc: Loc) -> tuple[str, ...]:
    """Column names (wire or fitted) as wire names: every feature once, no other."""
    if not isinstance(given, list) or not all(isinstance(name, str) for name in given):
        raise refuse(loc, "must be a list of feature names", "list_type")
    wire: list[str] = []
    for index, name in enumerate(given):
        known = names.known.get(name)
        if known is None:
            raise refuse(
                [*loc, index],
                f"unknown feature {name[:100]!r}; the model takes {names.describe()}",
                "extra_forbidden",
            )
        if known in wire:
            raise refuse([*loc, index], f"feature {known} is named twice")
        wire.append(known)
    missing = [name for name in names.wire if name not in wire]
    if missing:
        raise refuse(loc, f"missing features: {', '.join(missing)}", "missing")
    return tuple(wire)


def _columnar(value: dict[str, Any], names: FeatureNames, max_rows: int) -> list[Row]:
    loc: Loc = ["body", "inputs"]
    wire = columns(list(value), names, loc)
    lists = list(value.values())
    for name, cells in zip(value, lists, strict=True):
        _row_list(cells, [*loc, name], max_rows)
        if len(cells) != len(lists[0]):
            raise refuse([*loc, name], f"has {len(cells)} values; the first column {len(lists[0])}")
    return [dict(zip(wire, cells, strict=True)) for cells in zip(*lists, strict=True)]


def _any_row(row: Any, names: FeatureNames, loc: Loc) -> Row:
    if isinstance(row, dict):
        return _named(row, names, loc)
    if isinstance(row, list):
        return _listed(row, names.wire, loc)
    if len(names.wire) == 1:  # a lone value is the one feature's
        return {names.wire[0]: row}
    raise refuse(loc, f"must be an object by feature name or a list of {names.describe()}")


def _named(row: Any, names: FeatureNames, loc: Loc) -> Row:
    if not isinstance(row, dict):
        raise refuse(loc, "must be an object by feature name", "dict_type")
    if not names.aliased:
        return row
    named: Row = {}
    for key, value in row.items():
        wire = names.known.get(str(key), str(key))
        if wire in named:
            raise refuse([*loc, key], f"feature {wire} is given twice")
        named[wire] = value
    return named


def _listed(row: Any, wire: tuple[str, ...], loc: Loc) -> Row:
    if not isinstance(row, list) or len(row) != len(wire):
        raise refuse(loc, f"must be a list of {len(wire)} values: {', '.join(wire)}", "list_type")
    return dict(zip(wire, row, strict=True))


def describe(errors: list[FieldError]) -> str:
    """Where the first errors are (`instances.1.contract`); the problem itself when it is the
    whole body's (`the body (Input should be an object)`), never an empty location."""
    parts = [".".join(str(p) for p in e.loc[1:]) or f"the body ({e.msg})" for e in errors[:5]]
    return ", ".join(parts)
