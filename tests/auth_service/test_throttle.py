"""Login throttling: attempts reserved before the password is checked, counted per account and
client IP with an account-wide cap, answered 429 with a growing Retry-After."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from auth_service.config import Settings
from tests.auth_service.conftest import as_principal, create_user, running_auth
from tests.conftest import INTERNAL

pytestmark = pytest.mark.anyio
PASSWORD = "user-password-1"
TOKEN_ERROR = {"error", "error_description"}


def from_ip(ip: str) -> dict[str, str]:
    """Headers of a request the gateway forwarded from `ip`."""
    return {**INTERNAL, "X-Servir-Client-IP": ip}


async def login_from(
    auth: httpx.AsyncClient, ip: str, username: str, password: str
) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password}
    return await auth.post("/auth/token", data=form, headers=from_ip(ip))


async def throttled_auth(
    auth_settings: Settings, **limits: int
) -> AsyncIterator[httpx.AsyncClient]:
    settings = auth_settings.model_copy(update=limits)
    async with running_auth(settings) as client:
        yield client


@pytest.fixture
async def strict(auth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """2 failures per (account, IP), then a 1 s lockout doubling up to 3 s."""
    async for client in throttled_auth(
        auth_settings, login_max_failures=2, login_lockout_seconds=1, login_max_lockout_seconds=3
    ):
        yield client


@pytest.fixture
async def capped(auth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """2 failures per (account, IP), 3 per account."""
    async for client in throttled_auth(
        auth_settings, login_max_failures=2, login_account_max_failures=3
    ):
        yield client


async def test_concurrent_attempts_are_reserved_before_the_password_is_checked(
    auth: httpx.AsyncClient, auth_settings: Settings
) -> None:
    await create_user(auth, "rita")
    passwords = [f"wrong-{index}" for index in range(19)] + [PASSWORD]
    answers = await asyncio.gather(
        *(login_from(auth, "198.51.100.7", "rita", password) for password in passwords)
    )
    statuses = [answer.status_code for answer in answers]
    # Only the budget's worth of wrong passwords was ever checked; the rest were refused
    # unseen (before the fix all 19 were checked and the right one, too).
    assert statuses.count(400) <= auth_settings.login_max_failures
    assert statuses.count(429) >= len(passwords) - auth_settings.login_max_failures - 1
    assert set(statuses) <= {200, 400, 429}
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert set(refused.json()) == TOKEN_ERROR
    assert refused.json()["error"] == "invalid_request"
    assert int(refused.headers["retry-after"]) >= 1


async def test_a_locked_address_does_not_lock_the_account_for_another(
    auth: httpx.AsyncClient, auth_settings: Settings
) -> None:
    for _ in range(auth_settings.login_max_failures):
        assert (await login_from(auth, "203.0.113.5", "admin", "guess")).status_code == 400
    locked = await login_from(auth, "203.0.113.5", "admin", "admin-password-for-tests")
    elsewhere = await login_from(auth, "192.0.2.44", "admin", "admin-password-for-tests")
    assert locked.status_code == 429
    assert elsewhere.status_code == 200


async def test_password_change_failures_count_with_the_logins(
    auth: httpx.AsyncClient, auth_settings: Settings
) -> None:
    await create_user(auth, "saul")
    headers = {**as_principal("saul"), "X-Servir-Client-IP": "198.51.100.20"}
    body = {"current_password": "not-it", "new_password": "brand-new-pass"}
    for _ in range(auth_settings.login_max_failures):
        wrong = await auth.post("/auth/me/password", json=body, headers=headers)
        assert wrong.status_code == 403
    again = await auth.post("/auth/me/password", json=body, headers=headers)
    assert again.status_code == 429
    assert again.headers["content-type"] == "application/problem+json"
    assert int(again.headers["retry-after"]) >= 1
    right = {"current_password": PASSWORD, "new_password": "brand-new-pass"}
    assert (await auth.post("/auth/me/password", json=right, headers=headers)).status_code == 429
    assert (await login_from(auth, "198.51.100.20", "saul", PASSWORD)).status_code == 429
    assert (await login_from(auth, "198.51.100.21", "saul", PASSWORD)).status_code == 200


async def test_the_account_wide_cap_holds_across_addresses(capped: httpx.AsyncClient) -> None:
    await create_user(capped, "tina")
    other = await create_user(capped, "uwe")
    assert other.status_code == 201
    for ip in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
        assert (await login_from(capped, ip, "tina", "guess")).status_code == 400
    refused = await login_from(capped, "203.0.113.3", "tina", PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 900
    assert (await login_from(capped, "203.0.113.3", "uwe", PASSWORD)).status_code == 200


async def until_checked_again(auth: httpx.AsyncClient, ip: str, username: str) -> None:
    """Wait out the lockout: retry a wrong password until it is checked (400) again."""
    for _ in range(100):
        answer = await login_from(auth, ip, username, "guess")
        if answer.status_code != 429:
            break
        await asyncio.sleep(0.1)
    assert answer.status_code == 400


async def test_retry_after_doubles_with_each_failure_past_the_budget_up_to_the_cap(
    strict: httpx.AsyncClient,
) -> None:
    await create_user(strict, "vera")
    ip = "198.51.100.30"
    waits = []
    for _ in range(2):
        assert (await login_from(strict, ip, "vera", "guess")).status_code == 400
    for round_ in range(3):
        refused = await login_from(strict, ip, "vera", PASSWORD)
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        if round_ < 2:
            await until_checked_again(strict, ip, "vera")
    assert waits == [1, 2, 3]


async def test_a_success_neither_counts_nor_forgives_earlier_failures(
    strict: httpx.AsyncClient,
) -> None:
    await create_user(strict, "walt")
    ip = "198.51.100.40"
    assert (await login_from(strict, ip, "walt", "guess")).status_code == 400
    for _ in range(3):
        assert (await login_from(strict, ip, "walt", PASSWORD)).status_code == 200
    assert (await login_from(strict, ip, "walt", "guess")).status_code == 400
    assert (await login_from(strict, ip, "walt", PASSWORD)).status_code == 429
