"""The V2 request decoder (v2/request.py: msgspec first, the pydantic contract for the rest)
agrees with the contract alone: over thousands of mutated bodies, it accepts exactly what the
contract accepts, reads the same values from it, and refuses the rest with the contract's
errors."""

import json
import random
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from model_service.errors import InvalidInput
from model_service.v2.request import Request, RequestBody, parse_request
from shared_schemas.inference import V2InferenceRequest

VALID: dict[str, Any] = {
    "id": "req-1",
    "parameters": {"binary_data_output": False, "priority": 2, "ratio": 0.5, "tag": "x"},
    "inputs": [
        {
            "name": "input",
            "shape": [2, 2],
            "datatype": "FP64",
            "parameters": {"binary_data_size": 32},
            "data": [[1.0, 2], [3.5, -4]],
        }
    ],
    "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
}
ODD_VALUES: list[Any] = [
    0, -1, 4, 4.0, 2.5, 2**70, -(2**70), True, False, None, "", "4", "FP32", "BYTES", "fp64",
    "x" * 257, "y" * 65537, [], [1], [[1, 2]], {}, {"a": 1}, {"a": [1]}, {"a": None},
    {"b": 2**70}, {"c": "z" * 65537}, 1e308, -1e308,
]  # fmt: skip
# Text JSON that Python's json module does not write; spliced in for a value.
ODD_TEXT = ["1e400", "-1e400", "NaN", "Infinity", "-0.0", "1E2", "0.1e-400", '"\\ud800"']


def mutate(rng: random.Random) -> bytes:
    """The valid body with one to three random changes, as JSON text."""
    body = json.loads(json.dumps(VALID))
    splice: str | None = None
    for _ in range(rng.randint(1, 3)):
        holder, key = rng.choice(_slots(body))
        roll = rng.random()
        if roll < 0.15 and isinstance(holder, dict):
            holder.pop(key, None)
        elif roll < 0.25 and isinstance(holder, dict):
            holder["unknown"] = 1
        elif roll < 0.35:
            holder[key] = "__SPLICE__"
            splice = rng.choice(ODD_TEXT)
        else:
            holder[key] = rng.choice(ODD_VALUES)
    text = json.dumps(body)
    if splice is not None:
        text = text.replace('"__SPLICE__"', splice)
    if rng.random() < 0.05:  # a repeated key: the last one counts, for both decoders
        text = text.replace('"id": ', '"id": "first", "id": ', 1)
    return text.encode()


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in the body, to change one."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        found.append((node, key))
        if isinstance(value, dict | list):
            found.extend(_slots(value))
    return found


def seen(request: Request) -> str:
    """Everything the route reads of a request, written out (repr keeps -0.0 and nan apart)."""
    tensors = [(t.name, t.shape, t.datatype, t.parameters, t.data) for t in request.inputs]
    outputs = [(o.name, o.parameters) for o in request.outputs or []]
    return repr((request.id, request.parameters, tensors, outputs))


def contract(body: bytes) -> V2InferenceRequest | list[ErrorDetails]:
    try:
        return V2InferenceRequest.model_validate_json(body)
    except ValidationError as exc:
        return exc.errors(include_url=False, include_input=False)


def ours(body: bytes) -> Request | InvalidInput:
    try:
        return parse_request(body)
    except InvalidInput as exc:
        return exc


def test_the_decoder_agrees_with_the_contract_on_mutated_bodies() -> None:
    rng = random.Random(14)
    decoded_here = accepted = refused = 0
    for _ in range(4000):
        body = mutate(rng)
        expected, got = contract(body), ours(body)
        if isinstance(got, InvalidInput):
            assert isinstance(expected, list), body
            assert len(got.errors or []) == len(expected), body
            refused += 1
            continue
        assert isinstance(expected, V2InferenceRequest), body
        assert seen(got) == seen(expected), body
        accepted += 1
        decoded_here += isinstance(got, RequestBody)
    # Both outcomes, and both decoders, were exercised.
    assert accepted > 500
    assert refused > 500
    assert 0 < decoded_here < accepted


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [{"name": "x", "shape": [4.0], "datatype": "FP64", "data": [1]}]}',
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [NaN]}]}',
    ],
)
def test_what_only_the_contract_accepts_is_read_from_the_contract(body: bytes) -> None:
    got = parse_request(body)
    assert isinstance(got, V2InferenceRequest)
    assert seen(got) == seen(V2InferenceRequest.model_validate_json(body))


def test_a_plain_request_is_decoded_by_msgspec() -> None:
    body = json.dumps(VALID).encode()
    got = parse_request(body)
    assert isinstance(got, RequestBody)
    assert seen(got) == seen(V2InferenceRequest.model_validate_json(body))
