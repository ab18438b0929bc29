"""Byte counts read from headers: ASCII digits only, never a 500 for a strange value."""

import logging

import pytest
from starlette.types import Message, Scope

from servir_runtime.bodies import byte_count, declared_length, read_body
from servir_runtime.problems import ContentTooLarge

pytestmark = pytest.mark.anyio
# "²" and "٣" pass str.isdigit and fail int(); 5,000 digits pass bytes.isdigit and fail int().
NOT_COUNTS = ["²", "\u0663", "1²", "+12", " 12", "-1", "", "1_000", "9" * 5000, "0x10"]


@pytest.mark.parametrize("value", NOT_COUNTS)
def test_a_value_that_is_not_ascii_digits_is_no_byte_count(value: str) -> None:
    assert byte_count(value) is None
    assert byte_count(value.encode()) is None


def test_ascii_digits_are_a_byte_count() -> None:
    assert byte_count("0") == 0
    assert byte_count(b"1048576") == 1048576


def _scope(length: bytes) -> Scope:
    return {"type": "http", "headers": [(b"content-length", length)]}


@pytest.mark.parametrize("value", [b"\xb2", b"9" * 5000, b"12\xb2"])
def test_a_strange_content_length_is_ignored_not_a_crash(value: bytes) -> None:
    assert declared_length(_scope(value)) is None


async def test_the_body_limit_still_holds_when_the_declared_length_is_ignored() -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" * 20, "more_body": False}

    with pytest.raises(ContentTooLarge):
        await read_body(_scope(b"9" * 5000), receive, limit=10, setting="LIMIT")


async def test_a_413_tells_the_caller_the_limit_and_the_log_names_the_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" * 20, "more_body": False}

    caplog.set_level(logging.INFO, logger="servir.bodies")
    with pytest.raises(ContentTooLarge) as declared:
        await read_body(_scope(b"11"), receive, limit=10, setting="MODEL_MAX_BODY_BYTES")
    with pytest.raises(ContentTooLarge) as streamed:
        await read_body({"type": "http", "headers": []}, receive, limit=10, setting="LIMIT")
    assert declared.value.detail == "The body is 11 bytes; this route takes at most 10."
    assert streamed.value.detail == "The body exceeds this route's limit of 10 bytes."
    assert [record.__dict__["setting"] for record in caplog.records] == [
        "MODEL_MAX_BODY_BYTES",
        "LIMIT",
    ]
    assert "MODEL_MAX_BODY_BYTES=10" in caplog.records[0].getMessage()
