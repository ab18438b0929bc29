"""Password-guessing throttle (Keycloak's brute-force detection, per account and client IP).

Every password check first reserves an attempt in one Lua script, counted as a failure
before the password is even looked at: concurrent guesses cannot all slip in before the
first failure is written. A right password hands its reservation back; a wrong one keeps it.
Three budgets (see config.py): the account from this IP (then a lockout that doubles with
every further failure), the account from anywhere, and this IP against any account. A refused
attempt counts against none of them, so hammering a locked pair cannot exhaust the account's.
"""

from dataclasses import dataclass

from redis.asyncio import Redis

from auth_service import redis_keys
from auth_service.config import Settings
from auth_service.errors import TooManyAttempts

# KEYS: pair (hash: failures, locked_until), account counter, IP counter.
# ARGV: pair limit, account limit, IP limit, window, lockout, max lockout.
# Returns {0, seconds to wait} when refused, else {1, 0}. Redis's clock, not the replicas'.
RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local window = tonumber(ARGV[4])
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'locked_until') or '0')
if now < locked_until then
  return {0, math.ceil(locked_until - now)}
end
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then
    return {0, math.max(redis.call('TTL', KEYS[i]), 1)}
  end
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local keep = window
if failures >= tonumber(ARGV[1]) then
  local wait = tonumber(ARGV[5]) * 2 ^ (failures - tonumber(ARGV[1]))
  wait = math.min(wait, tonumber(ARGV[6]))
  redis.call('HSET', KEYS[1], 'locked_until', tostring(now + wait))
  keep = math.max(window, math.ceil(wait))
end
redis.call('EXPIRE', KEYS[1], keep)
for i = 2, 3 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], window, 'NX')
end
return {1, 0}
"""

# KEYS as above; ARGV: pair limit. Hands one reservation back (the password was right); the
# pair's lockout goes with it when the failures left are under the limit.
RELEASE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', -1)
if failures <= 0 then
  redis.call('DEL', KEYS[1])
elseif failures < tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[1], 'locked_until')
end
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Attempt:
    """A reserved password check: counted as failed unless `succeeded` is called."""

    keys: tuple[str, str, str]
    pair_limit: int


async def reserve_attempt(redis: "Redis", *, settings: Settings, username: str, ip: str) -> Attempt:
    """Reserve one password check for `username` from `ip`; `TooManyAttempts` when over budget."""
    keys = (
        redis_keys.login_failures_pair(username, ip),
        redis_keys.login_failures_account(username),
        redis_keys.login_failures_ip(ip),
    )
    args = (
        settings.login_max_failures,
        settings.login_account_max_failures,
        settings.login_ip_max_failures,
        settings.login_window_seconds,
        settings.login_lockout_seconds,
        settings.login_max_lockout_seconds,
    )
    allowed, wait = await redis.register_script(RESERVE)(keys=keys, args=args)
    if not allowed:
        raise TooManyAttempts(int(wait))
    return Attempt(keys=keys, pair_limit=settings.login_max_failures)


async def succeeded(redis: "Redis", attempt: Attempt) -> None:
    """The password was right: the attempt is not a failure."""
    await redis.register_script(RELEASE)(keys=attempt.keys, args=(attempt.pair_limit,))
