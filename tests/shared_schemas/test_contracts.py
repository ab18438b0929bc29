"""The Contract base and the error contracts."""

import pytest
from pydantic import ValidationError

from shared_schemas import Contract, Problem, V2Problem
from shared_schemas.auth import ApiKeyCreate, UserCreate, UserPatch, UserRecord
from shared_schemas.inference import PredictRequest


class Point(Contract):
    x: float
    n: int = 0


def test_contract_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        Point.model_validate_json('{"x": 1.0, "y": 2}')


@pytest.mark.parametrize(
    "raw", ['{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}', '{"x": 1e400}']
)
def test_contract_rejects_non_finite_floats(raw: str) -> None:
    with pytest.raises(ValidationError, match="finite_number"):
        Point.model_validate_json(raw)


@pytest.mark.parametrize("raw", ['{"x": "1.5"}', '{"x": true}', '{"x": 1.0, "n": 1.5}'])
def test_contract_is_strict_about_types(raw: str) -> None:
    with pytest.raises(ValidationError):
        Point.model_validate_json(raw)


def test_contract_accepts_int_where_float_belongs() -> None:
    assert Point.model_validate_json('{"x": 3}').x == 3.0


def test_problem_omits_errors_when_there_are_none() -> None:
    problem = Problem(title="Not Found", status=404, detail="d", instance="/x", request_id="r")
    assert "errors" not in problem.model_dump(exclude_none=True)
    assert problem.type == "about:blank"


def test_v2_problem_carries_protocol_error() -> None:
    problem = V2Problem(
        title="Bad Request", status=400, detail="bad", instance="/v2/x", request_id="r", error="bad"
    )
    assert problem.model_dump()["error"] == "bad"


def test_user_patch_refuses_mass_assignment() -> None:
    with pytest.raises(ValidationError, match="password_hash"):
        UserPatch.model_validate_json('{"password_hash": "x"}')


def test_predict_request_needs_at_least_one_instance() -> None:
    with pytest.raises(ValidationError, match="instances"):
        PredictRequest.model_validate_json('{"instances": []}')


@pytest.mark.parametrize("contract", [UserCreate, UserPatch, ApiKeyCreate])
def test_requested_scopes_are_a_set_and_refuse_repeats(contract: type[Contract]) -> None:
    body = {"username": "ann-1", "password": "ann-password-1", "name": "k"}
    repeated: dict[str, object] = {k: v for k, v in body.items() if k in contract.model_fields}
    repeated["scopes"] = ["users:admin", "users:admin", "models:admin"]
    with pytest.raises(ValidationError, match="repeat"):
        contract.model_validate(repeated)
    assert contract.model_json_schema()["properties"]["scopes"]["anyOf"][0]["uniqueItems"] is True


def test_stored_scopes_read_back_unique_in_canonical_order() -> None:
    record = UserRecord.model_validate_json(
        '{"username": "ann", "password_hash": "h", "created_at": "2026-01-01T00:00:00Z",'
        ' "scopes": ["users:admin", "users:admin", "models:admin", "models:read"]}'
    )
    assert record.scopes == ["models:read", "models:admin", "users:admin"]
