"""Hostile input through the gateway: every case gets its documented 4xx, as problem+json
carrying the request id (RFC 6749's error body on the token endpoint), and nothing else: no
5xx, no hang, no request sent anywhere but the upstreams the settings name.

The statuses (docs/api.md, the services' OpenAPI documents, README "The gateway as an edge"):
a body that is not JSON at all (malformed, not UTF-8, nested too deeply) → 422 like any body
that does not fit; a body declared as another media type → 415; a body over
GATEWAY_MAX_BODY_BYTES → 413; non-finite numbers, wrong types, unknown fields, too many rows
→ 422 naming the field (on `/v2`, a tensor whose values or shape do not fit the model → 400,
as the v2 document says); a method a path does not serve → 405 + Allow; a request head over
GATEWAY_MAX_HEADER_BYTES or GATEWAY_MAX_HEADERS → 431, the connection closed.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.conftest import RunningStack
from tests.integration.identity import admin_token, bearer, unique
from tests.integration.rawhttp import raw_exchange

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PREDICT = "/models/iris/predict"
INFER = "/v2/models/iris/infer"
USERS = "/auth/users"
TOKEN = "/auth/token"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
NESTED = b"[" * 100_000 + b"]" * 100_000
OVER_LIMIT = 1024 * 1024 + 1  # GATEWAY_MAX_BODY_BYTES + 1
FIRST: list[str | int] = ["body", "instances", 0, "sepal_length"]


@dataclass(frozen=True)
class Case:
    """One hostile body and the answer it must get; `loc` is a field the errors must name,
    `mentions` a text the detail or the errors must carry."""

    body: bytes
    status: int
    content_type: str | None = JSON
    loc: list[str | int] | None = None
    mentions: str | None = None


def row_with(value: bytes) -> bytes:
    """A predict body whose first feature is the raw JSON `value`."""
    rest = b'"sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2'
    return b'{"instances": [{"sepal_length": ' + value + b", " + rest + b"}]}"


def predict_body(instances: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"instances": instances, **extra}).encode()


def tensor(data: Any, shape: list[int], datatype: str = "FP64") -> bytes:
    return json.dumps(
        {"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": data}]}
    ).encode()


def raw_tensor(value: bytes) -> bytes:
    """A v2 body whose first tensor element is the raw JSON `value`."""
    head = b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": ['
    return head + value + b", 1, 1, 1]}]}"


PREDICT_CASES = {
    "malformed JSON": Case(b'{"instances": [', 422, loc=["body"]),
    "not UTF-8": Case(row_with(b'"\xff\xfe"'), 422, loc=["body"]),
    "text/plain": Case(predict_body([SETOSA]), 415, content_type="text/plain"),
    "form-encoded": Case(predict_body([SETOSA]), 415, content_type=FORM),
    "no content type": Case(predict_body([SETOSA]), 415, content_type=None),
    "nested 100,000 deep": Case(b'{"instances": ' + NESTED + b"}", 422, loc=["body"]),
    "NaN": Case(row_with(b"NaN"), 422, loc=FIRST),
    "Infinity": Case(row_with(b"Infinity"), 422, loc=FIRST),
    "-Infinity": Case(row_with(b"-Infinity"), 422, loc=FIRST),
    "1e400": Case(row_with(b"1e400"), 422, loc=FIRST),
    "a 5,000-digit number": Case(row_with(b"1" + b"0" * 5000), 422, loc=["body"]),
    "1,001 rows": Case(predict_body([SETOSA] * 1001), 422, mentions="1000"),
    "rows beyond the body limit": Case(predict_body([SETOSA] * 20_000), 413),
    "10,000 unknown features": Case(
        predict_body([{**SETOSA, **{f"f{i}": 1.0 for i in range(10_000)}}]),
        422,
        loc=["body", "instances", 0, "f0"],
    ),
    "string for a float": Case(predict_body([{**SETOSA, "sepal_length": "5.1"}]), 422, loc=FIRST),
    "boolean for a float": Case(predict_body([{**SETOSA, "sepal_length": True}]), 422, loc=FIRST),
    "null for a float": Case(predict_body([{**SETOSA, "sepal_length": None}]), 422, loc=FIRST),
    "extra field": Case(predict_body([SETOSA], admin=True), 422, loc=["body", "admin"]),
    "string for a bool": Case(
        predict_body([SETOSA], return_probabilities="yes"),
        422,
        loc=["body", "return_probabilities"],
    ),
}
INFER_CASES = {
    "malformed JSON": Case(b'{"inputs": [', 422, loc=["body"]),
    "not UTF-8": Case(b'{"inputs": [{"name": "\xff\xfe"}]}', 422, loc=["body"]),
    "text/plain": Case(tensor([[1, 1, 1, 1]], [1, 4]), 415, content_type="text/plain"),
    "nested 100,000 deep": Case(b'{"inputs": ' + NESTED + b"}", 422, loc=["body"]),
    "NaN": Case(raw_tensor(b"NaN"), 400, mentions="not a finite number"),
    "Infinity": Case(raw_tensor(b"Infinity"), 400, mentions="not a finite number"),
    "1e400": Case(raw_tensor(b"1e400"), 400, mentions="not a finite number"),
    "string for a float": Case(tensor(["1", 1, 1, 1], [1, 4]), 400, mentions="numbers only"),
    "boolean for a float": Case(tensor([True, 1, 1, 1], [1, 4]), 400, mentions="numbers only"),
    "boolean in a nested row": Case(
        tensor([[1, 1, 1, 1], [1, False, 1, 1]], [2, 4]), 400, mentions="numbers only"
    ),
    "extra field": Case(
        json.dumps({**json.loads(tensor([1, 1, 1, 1], [1, 4])), "admin": True}).encode(),
        422,
        loc=["body", "admin"],
    ),
    "1,001 rows": Case(tensor([1.0] * 4004, [1001, 4]), 422, mentions="1000"),
    "a shape of 10^8 rows": Case(tensor([1.0] * 4, [100_000_000, 4]), 422, mentions="1000"),
    "5,000 features": Case(tensor([1.0] * 5000, [1, 5000]), 400, mentions="shape"),
    "rows beyond the body limit": Case(tensor([1.5] * 300_000, [75_000, 4]), 413),
}
USER_CASES = {
    "malformed JSON": Case(b'{"username": ', 422, loc=["body", 13]),
    "not UTF-8": Case(b'{"username": "\xff\xfe", "password": "x"}', 422, loc=["body"]),
    "text/plain": Case(b'{"username": "a", "password": "b"}', 415, content_type="text/plain"),
    "nested 100,000 deep": Case(b'{"username": ' + NESTED + b"}", 422, loc=["body"]),
    "NaN": Case(b'{"username": NaN, "password": "integration-pass-1"}', 422),
    "number for a string": Case(
        b'{"username": 12345, "password": "integration-pass-1"}', 422, loc=["body", "username"]
    ),
    "boolean for a string": Case(
        b'{"username": true, "password": "integration-pass-1"}', 422, loc=["body", "username"]
    ),
    "extra field": Case(
        b'{"username": "mallory", "password": "integration-pass-1", "admin": true}',
        422,
        loc=["body", "admin"],
    ),
    "body beyond the limit": Case(b'{"username": "' + b"a" * OVER_LIMIT + b'"}', 413),
}
TOKEN_CASES = {
    "JSON": Case(b'{"grant_type": "password"}', 400, mentions="invalid_request"),
    "not UTF-8": Case(b"grant_type=password&username=\xff&password=x", 400, FORM),
    "percent-encoded non-UTF-8": Case(b"grant_type=password&username=%ff&password=x", 400, FORM),
    "repeated parameter": Case(b"grant_type=password&grant_type=refresh_token", 400, FORM),
    "form over 16 KiB": Case(b"grant_type=password&username=" + b"a" * 20_000, 400, FORM),
    "body beyond the limit": Case(b"grant_type=password&username=" + b"a" * OVER_LIMIT, 413, FORM),
    "unknown grant": Case(b"grant_type=magic", 400, FORM, mentions="unsupported_grant_type"),
}


@pytest.fixture(scope="module")
def admin(stack: RunningStack) -> dict[str, str]:
    with httpx.Client(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        return bearer(admin_token(client, stack))


def send(gateway: httpx.Client, path: str, case: Case, auth: dict[str, str]) -> httpx.Response:
    headers = dict(auth)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    return gateway.post(path, content=case.body, headers=headers)


def assert_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    """The status as problem+json for `path`, carrying the response's own request id."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["instance"] == path
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def assert_case(response: httpx.Response, path: str, case: Case) -> None:
    body = assert_problem(response, case.status, path)
    if path.startswith("/v2"):
        assert body["error"] == body["detail"]
    if case.loc is not None:
        assert case.loc in [error["loc"] for error in body.get("errors", [])], body
    if case.mentions is not None:
        assert case.mentions in json.dumps(body), body


@pytest.mark.parametrize("name", PREDICT_CASES)
def test_hostile_predict_gets_its_4xx(
    gateway: httpx.Client, admin: dict[str, str], name: str
) -> None:
    case = PREDICT_CASES[name]
    assert_case(send(gateway, PREDICT, case, admin), PREDICT, case)


@pytest.mark.parametrize("name", INFER_CASES)
def test_hostile_v2_infer_gets_its_4xx(
    gateway: httpx.Client, admin: dict[str, str], name: str
) -> None:
    case = INFER_CASES[name]
    assert_case(send(gateway, INFER, case, admin), INFER, case)


@pytest.mark.parametrize("name", USER_CASES)
def test_hostile_user_creation_gets_its_4xx(
    gateway: httpx.Client, admin: dict[str, str], name: str
) -> None:
    case = USER_CASES[name]
    assert_case(send(gateway, USERS, case, admin), USERS, case)


@pytest.mark.parametrize("name", TOKEN_CASES)
def test_hostile_token_request_gets_an_rfc_6749_error(gateway: httpx.Client, name: str) -> None:
    case = TOKEN_CASES[name]
    response = send(gateway, TOKEN, case, {})
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"] == JSON
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]
    body = response.json()
    assert set(body) <= {"error", "error_description"}
    assert body["error"] == (case.mentions or "invalid_request")


@pytest.mark.parametrize("method", ["TRACE", "PUT"])
@pytest.mark.parametrize("path", [PREDICT, INFER, USERS, TOKEN])
def test_methods_a_path_does_not_serve_are_405(
    gateway: httpx.Client, admin: dict[str, str], method: str, path: str
) -> None:
    secret = admin["Authorization"]
    response = gateway.request(method, path, headers={**admin, "Cookie": "session=s3cret"})
    assert_problem(response, 405, path)
    allowed = {m.strip() for m in response.headers["allow"].split(",") if m.strip()}
    assert allowed, "405 without the methods the path serves"
    assert method not in allowed
    assert secret not in response.text  # TRACE echoes nothing (cross-site tracing)
    assert "s3cret" not in response.text


def gateway_address(stack: RunningStack) -> tuple[str, int]:
    parts = urlsplit(stack.gateway_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def predict_request(auth: dict[str, str], extra: bytes) -> bytes:
    body = predict_body([SETOSA])
    return (
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: servir\r\n"
        b"Authorization: " + auth["Authorization"].encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n"
        % len(body)
        + extra
        + b"\r\n"
        + body
    )


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(b"X-Big: " + b"a" * 100_000 + b"\r\n", id="a 100 KB header value"),
        pytest.param(b"".join(b"X-H%d: v\r\n" % i for i in range(1000)), id="1000 headers"),
    ],
)
def test_absurd_request_heads_are_431_and_closed(
    stack: RunningStack, gateway: httpx.Client, admin: dict[str, str], extra: bytes
) -> None:
    answer = raw_exchange(gateway_address(stack), predict_request(admin, extra))
    assert answer.status == 431, answer
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    problem = json.loads(answer.body)
    assert problem["status"] == 431
    assert problem["request_id"] == answer.headers["x-request-id"]
    assert answer.seconds < 2
    assert gateway.get("/livez").status_code == 200
    log = stack.log("model-service")
    if log is not None:  # refused before anything was forwarded
        assert answer.headers["x-request-id"] not in log


def test_a_10_mb_header_is_refused_or_cut_off_never_served(
    stack: RunningStack, gateway: httpx.Client, admin: dict[str, str]
) -> None:
    extra = b"X-Big: " + b"a" * 10_000_000 + b"\r\n"
    answer = raw_exchange(gateway_address(stack), predict_request(admin, extra))
    # The gateway answers 431 and closes once the head passes its limit; a client still
    # sending may see that close as a reset before it reads the answer.
    assert answer.status == 431 or answer.ended in {"closed", "reset"}, answer
    assert answer.seconds < 5
    assert gateway.get("/livez").status_code == 200


def test_a_large_head_within_the_limits_is_served(
    stack: RunningStack, admin: dict[str, str]
) -> None:
    extra = b"X-Big: " + b"a" * 16_000 + b"\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(80))
    answer = raw_exchange(gateway_address(stack), predict_request(admin, extra))
    assert answer.status == 200, answer
    assert json.loads(answer.body)["predictions"] == ["setosa"]


@pytest.fixture
def decoy() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback listener of the test's own: (its port, what each connection sent)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    received.append(conn.recv(65536))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_host_and_forwarded_headers_never_choose_the_upstream(
    stack: RunningStack,
    gateway: httpx.Client,
    admin: dict[str, str],
    decoy: tuple[int, list[bytes]],
) -> None:
    port, received = decoy
    elsewhere = f"127.0.0.1:{port}"
    steer = {
        "Host": elsewhere,
        "X-Forwarded-Host": elsewhere,
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Port": str(port),
        "X-Forwarded-Server": elsewhere,
        "X-Forwarded-For": "127.0.0.1",
        "Forwarded": f'host="{elsewhere}";proto=http;for=127.0.0.1',
        "X-Original-URL": f"http://{elsewhere}/models",
        "X-Rewrite-URL": f"http://{elsewhere}/models",
    }
    predicted = gateway.post(PREDICT, json={"instances": [SETOSA]}, headers={**admin, **steer})
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"] == ["setosa"]
    described = gateway.get("/models/iris", headers={**admin, **steer})
    assert described.status_code == 200
    form = {"grant_type": "password", "username": unique("nobody"), "password": "wrong-pass-1"}
    refused = gateway.post(TOKEN, data=form, headers=steer)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # An absolute-form target names another origin outright.
    absolute = (
        f"GET http://{elsewhere}/models HTTP/1.1\r\nHost: {elsewhere}\r\n"
        f"Authorization: {admin['Authorization']}\r\n\r\n"
    ).encode()
    answer = raw_exchange(gateway_address(stack), absolute)
    assert answer.status == 200, answer
    assert "iris" in {model["name"] for model in json.loads(answer.body)}
    time.sleep(0.3)  # a connection to the decoy would have been accepted by now
    assert received == []
