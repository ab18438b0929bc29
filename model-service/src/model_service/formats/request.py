"""A prediction request in any form the service takes, as the rows the estimator takes.

Valid rows are checked column by column (columns.py): the hot path. Only when that check fails
are they validated row by row by the model's own schema (models/schemas.py), so every error
names the row and the field. The own form with rows as objects (`{"instances": [{...}]}`) is
told apart by its first bytes alone, and validated straight from the bytes by pydantic-core
when it has to be. Any other JSON body (MLflow's forms, rows as lists, fitted column names) is
parsed once with orjson and turned into rows by wire name (rows.py); CSV likewise.
"""

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import orjson
from pydantic import ValidationError

from model_service.errors import InvalidInput
from model_service.formats.csvbody import csv_rows
from model_service.formats.rows import Loc, Row, describe, form_of, refuse, rows_of
from model_service.models.registry import ModelVersion
from shared_schemas.problems import field_error

# `{"instances": [{` (or `[]`), or `{"return_probabilities"`: the own form, validated as is.
OWN_FORM = re.compile(rb'\s*\{\s*"(?:instances"\s*:\s*\[\s*[{\]]|return_probabilities")')
PROBA = "return_probabilities"
MLFLOW_EXTRAS = frozenset({"params"})
PREDICT_EXTRAS = frozenset({"params", PROBA})


class Parsed(NamedTuple):
    """A valid request: its rows as the estimator takes them, and whether it asks for
    probabilities."""

    rows: np.ndarray
    proba: bool


@dataclass(frozen=True)
class RequestForm:
    """How a request came: as CSV or JSON, to `invocations` (MLflow's answer) or `predict`."""

    csv: bool
    mlflow: bool
    max_rows: int


@cache
def request_form(*, csv: bool, mlflow: bool, max_rows: int) -> RequestForm:
    """The form, made once: a frozen dataclass costs more to build than the regex to run."""
    return RequestForm(csv=csv, mlflow=mlflow, max_rows=max_rows)


def read_request(model: ModelVersion, body: bytes, form: RequestForm) -> Parsed:
    """The model's validated request (rows, `return_probabilities`); 422 otherwise."""
    if form.csv:
        rows, where = csv_rows(body, model.schemas.names, form.max_rows)
        return _validated(model, rows, False, where)
    if OWN_FORM.match(body):
        fast = _own_form(model, body, form)
        if fast is not None:
            return fast
        try:
            parsed: Any = model.schemas.request.model_validate_json(body)
        except ValidationError as exc:
            # Rows as lists, fitted column names or `params` come here too: an MLflow body.
            payload = _json_object(body)
            if payload is None:
                raise not_fitting(model, exc, ["body", "instances"]) from None
            return _mlflow(model, payload, form)
        if form.mlflow and parsed.return_probabilities:
            raise refuse(["body", PROBA], "not part of MLflow's protocol; ask /predict for it")
        return _parsed(model, parsed)
    payload = _json_object(body)
    if payload is None:  # not a JSON object: the own schema's error says what is wrong
        try:
            return _parsed(model, model.schemas.request.model_validate_json(body))
        except ValidationError as exc:
            raise not_fitting(model, exc, ["body", "instances"]) from None
    return _mlflow(model, payload, form)


def _own_form(model: ModelVersion, body: bytes, form: RequestForm) -> Parsed | None:
    """An own-form body that passes the fast check (columns.py); None for any other."""
    fast = model.schemas.columns.decode(body)
    if fast is None or (fast[1] and form.mlflow):  # MLflow's refusal is the slow path's
        return None
    return Parsed(*fast)


def _parsed(model: ModelVersion, request: Any) -> Parsed:
    return Parsed(model.schemas.to_array(request.instances), bool(request.return_probabilities))


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _mlflow(model: ModelVersion, payload: dict[str, Any], form: RequestForm) -> Parsed:
    key = form_of(payload, MLFLOW_EXTRAS if form.mlflow else PREDICT_EXTRAS)
    rows, where = rows_of(key, payload[key], model.schemas.names, form.max_rows)
    return _validated(model, rows, payload.get(PROBA, False), where)


def _validated(model: ModelVersion, rows: list[Row], proba: Any, where: Loc) -> Parsed:
    fast = model.schemas.columns.convert(rows, proba)
    if fast is not None:
        return Parsed(*fast)
    document = orjson.dumps({"instances": rows, PROBA: proba})
    try:
        return _parsed(model, model.schemas.request.model_validate_json(document))
    except ValidationError as exc:
        raise not_fitting(model, exc, where) from None


def not_fitting(model: ModelVersion, exc: ValidationError, where: Loc) -> InvalidInput:
    """422 naming each row and field, where the caller put them (`where`: the rows' place)."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        if loc[:1] == ("instances",):  # a row's error: where the caller put the rows
            errors.append(field_error({**error, "loc": loc[1:]}, prefix=where))
        else:
            errors.append(field_error(error, prefix=["body"]))
    detail = f"The request does not fit model {model.manifest.name}: {describe(errors)}."
    return InvalidInput(detail, errors=errors)
