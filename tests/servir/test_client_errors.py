"""Error answers become typed exceptions that carry the problem details."""

import httpx
import pytest

from servir.client.core import parsed, raise_for_problem
from servir.errors import (
    ApiError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    ServerError,
    ServirError,
    Unauthorized,
    UnexpectedResponse,
)
from shared_schemas.inference import ModelMetadata

PROBLEM = {
    "type": "about:blank",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "The request does not fit model iris: instances.0.sepal_length.",
    "instance": "/models/iris/predict",
    "request_id": "0f2c1d6e9a7b4c3d",
    "errors": [{"loc": ["body", "instances", 0, "sepal_length"], "msg": "bad", "type": "x"}],
}


def answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, Invalid),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (413, ApiError),
        (422, Invalid),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_status_family_has_its_class(status: int, kind: type[ApiError]) -> None:
    with pytest.raises(kind) as raised:
        raise_for_problem(answer(status, {**PROBLEM, "status": status}))
    assert isinstance(raised.value, ApiError)
    assert isinstance(raised.value, ServirError)
    assert raised.value.status == status


def test_the_problem_is_carried_whole() -> None:
    with pytest.raises(Invalid) as raised:
        raise_for_problem(answer(422, PROBLEM))
    error = raised.value
    assert error.title == "Unprocessable Entity"
    assert error.detail == PROBLEM["detail"]
    assert error.errors == PROBLEM["errors"]
    assert error.problem == PROBLEM
    assert str(error) == f"422 Unprocessable Entity: {PROBLEM['detail']}"


def test_retry_after_is_read() -> None:
    with pytest.raises(RateLimited) as raised:
        raise_for_problem(answer(429, {**PROBLEM, "status": 429}, **{"Retry-After": "7"}))
    assert raised.value.retry_after == 7.0


def test_a_refused_login_is_unauthorized() -> None:
    body = {"error": "invalid_grant", "error_description": "Invalid username or password."}
    with pytest.raises(Unauthorized) as raised:
        raise_for_problem(answer(400, body))
    assert raised.value.title == "invalid_grant"
    assert raised.value.detail == "Invalid username or password."


def test_a_body_that_is_no_problem_still_raises_by_status() -> None:
    with pytest.raises(ServerError) as raised:
        raise_for_problem(httpx.Response(502, text="<html>bad gateway</html>"))
    assert raised.value.title == "Bad Gateway"
    assert raised.value.problem == {}


def test_a_success_raises_nothing() -> None:
    raise_for_problem(answer(200, {"ok": True}))


def test_an_answer_that_does_not_fit_is_unexpected() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:8000/models/iris")
    response = httpx.Response(200, json={"name": "iris"}, request=request)
    with pytest.raises(UnexpectedResponse, match=r"GET /models/iris does not fit this client"):
        parsed(response, ModelMetadata)
