"""A flood of made-up API keys: malformed ones never reach the auth-service, unknown ones are
remembered apart from the good ones, so neither kind costs a good key its cache entry."""

import asyncio
import secrets

import pytest

from shared_schemas.apikey_format import API_KEY_PREFIX, well_formed_api_key
from tests.gateway.fake_auth import new_api_key, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MALFORMED = [
    "",
    "sk_" + secrets.token_hex(16),
    API_KEY_PREFIX,
    API_KEY_PREFIX + "a" * 42,
    API_KEY_PREFIX + "a" * 44,
    API_KEY_PREFIX + "a" * 42 + "=",
    API_KEY_PREFIX + "a" * 42 + "/",
    "SRV_" + "a" * 43,
    "x" * 600,
]


def test_malformed_keys_are_not_well_formed() -> None:
    assert not any(well_formed_api_key(key) for key in MALFORMED)


async def test_key_flood_spares_the_auth_service_and_the_good_key() -> None:
    async with running_stack(rate_limit_enabled=False, api_key_cache_max_entries=8) as stack:
        good, _ = stack.fake.add_key()
        first = await stack.client.get("/models", headers={"X-API-Key": good})
        flood = [new_api_key() for _ in range(40)] + MALFORMED[1:] * 5
        answers = [await stack.client.get("/models", headers={"X-API-Key": k}) for k in flood]
        after = await stack.client.get("/models", headers={"X-API-Key": good})
    assert (first.status_code, after.status_code) == (200, 200)
    assert {answer.status_code for answer in answers} == {401}
    asked = stack.fake.introspected
    assert not set(asked) & set(MALFORMED)  # refused by their shape alone
    assert sorted(asked) == sorted([good, *flood[:40]])  # one call per unknown key, one good
    assert asked.count(good) == 1  # the flood did not push the good key out of the cache


async def test_unknown_key_is_remembered_briefly_then_asked_again() -> None:
    unknown = new_api_key()
    async with running_stack(rate_limit_enabled=False, api_key_negative_cache_seconds=0.2) as stack:
        for _ in range(3):
            await stack.client.get("/models", headers={"X-API-Key": unknown})
        await asyncio.sleep(0.3)
        again = await stack.client.get("/models", headers={"X-API-Key": unknown})
    assert again.status_code == 401
    assert stack.fake.introspected.count(unknown) == 2


async def test_unknown_keys_beyond_their_bound_are_forgotten_oldest_first() -> None:
    keys = [new_api_key() for _ in range(4)]
    async with running_stack(
        rate_limit_enabled=False, api_key_negative_cache_max_entries=3
    ) as stack:
        for key in [*keys, keys[3], keys[0]]:
            await stack.client.get("/models", headers={"X-API-Key": key})
    # keys[0] was dropped for keys[3]; keys[3] was still remembered.
    assert stack.fake.introspected == [*keys, keys[0]]
