"""The lean script client against real redis-server processes, some of which it sees die."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.limits.ratelimit import SCRIPT
from gateway.transport.redis_script import ScriptClient, ScriptError, supports
from servir_runtime.processes import HOST, free_port, redis_command, redis_pong

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

ECHO = "if ARGV[1] == 'fail' then return redis.error_reply('no thanks') end return ARGV[1]"
WINDOW_MS = 60_000


@pytest.fixture(
    params=[pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"), "asyncio"],
)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    return request.param


class RedisServer:
    """A redis-server process this test owns, to kill, hang and restart on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.command = redis_command(port=self.port, data_dir=data_dir)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not redis_pong(self.port):
            assert self.process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.02)

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)


Servers = Callable[[], RedisServer]
Clients = Callable[..., ScriptClient]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Servers]:
    """Starts redis-servers of this test's own; every one is killed at the end."""
    servers: list[RedisServer] = []

    def start() -> RedisServer:
        servers.append(RedisServer(tmp_path / f"redis{len(servers)}"))
        servers[-1].start()  # once listed, so that it is killed even if it fails to answer
        return servers[-1]

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
async def redis_py(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """Makes ScriptClients (the rate-limit script unless told), all closed at the end."""
    made: list[ScriptClient] = []

    def make(url: str, script: str = SCRIPT, timeout: float = 2.0) -> ScriptClient:
        made.append(ScriptClient(url, script, timeout=timeout))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


def key(name: str) -> str:
    return f"test:redis_script:{name}:{time.monotonic_ns()}"


async def test_rate_limit_script_counts_like_redis_py(
    redis_url: str, redis_py: Redis, clients: Clients
) -> None:
    client, script, name = clients(redis_url), redis_py.register_script(SCRIPT), key("same")
    replies = []
    for _ in range(3):
        replies.append(await client.run([name], [WINDOW_MS]))
        replies.append(await script(keys=[name], args=[WINDOW_MS]))
    assert [count for count, _ in replies] == [1, 2, 3, 4, 5, 6]
    assert all(type(left) is int and 0 < left <= WINDOW_MS for _, left in replies)


MIXED = "return {1, 'two', {-3, {}}, redis.status_reply('FINE'), ARGV[1] .. KEYS[1]}"
BIG = "return {string.rep('x', 300000), 7}"  # arrives in parts


@pytest.mark.parametrize("lua", [MIXED, BIG, "return 'bulk'", "return 42", "return nil"])
async def test_replies_decode_like_redis_py(
    redis_url: str, redis_py: Redis, clients: Clients, lua: str
) -> None:
    ours = await clients(redis_url, lua).run(["k\r\n"], ["€ \r\n$3"])
    assert ours == await redis_py.register_script(lua)(keys=["k\r\n"], args=["€ \r\n$3"])


async def test_concurrent_calls_answered_in_order_per_key(redis_url: str, clients: Clients) -> None:
    client, names = clients(redis_url), [key(f"k{i}") for i in range(5)]
    calls = (client.run([names[i % 5]], [WINDOW_MS]) for i in range(500))
    replies = await asyncio.gather(*calls)
    for i in range(5):
        assert [count for count, _ in replies[i::5]] == list(range(1, 101))


async def test_noscript_after_script_flush_is_resent(
    redis_url: str, redis_py: Redis, clients: Clients
) -> None:
    client, name = clients(redis_url), key("flush")
    assert (await client.run([name], [WINDOW_MS]))[0] == 1
    await redis_py.script_flush()
    replies = await asyncio.gather(*(client.run([name], [WINDOW_MS]) for _ in range(10)))
    assert sorted(count for count, _ in replies) == list(range(2, 12))
    assert (await client.run([name], [WINDOW_MS]))[0] == 12


async def test_error_reply_fails_only_that_call(redis_url: str, clients: Clients) -> None:
    client = clients(redis_url, ECHO)
    calls = (client.run([], [arg]) for arg in ("a", "fail", 3))
    replies = await asyncio.gather(*calls, return_exceptions=True)
    assert [replies[0], replies[2]] == [b"a", b"3"]
    assert repr(replies[1]) == repr(ScriptError("no thanks"))


async def test_password_from_url_authenticates(own_redis: Servers, clients: Clients) -> None:
    server = own_redis()
    redis = Redis.from_url(server.url)
    await redis.config_set("requirepass", "s3cret/:@")
    await redis.aclose()
    for auth in (":s3cret%2F%3A%40@", "default:s3cret%2F%3A%40@"):
        url = server.url.replace("//", f"//{auth}")
        assert (await clients(url).run([key("auth")], [WINDOW_MS]))[0] == 1
    with pytest.raises(ConnectionError, match="refused AUTH: WRONGPASS"):
        await clients(server.url.replace("//", "//:wrong@")).run([key("auth")], [WINDOW_MS])


async def test_db_from_url_holds_keys(redis_url: str, redis_py: Redis, clients: Clients) -> None:
    db3_url, name = redis_url.rsplit("/", 1)[0] + "/3", key("db")
    await clients(db3_url).run([name], [WINDOW_MS])
    db3 = Redis.from_url(db3_url)
    try:
        assert (await db3.exists(name), await redis_py.exists(name)) == (1, 0)
    finally:
        await db3.aclose()


async def test_first_callers_share_one_connection(own_redis: Servers, clients: Clients) -> None:
    server = own_redis()
    client, redis = clients(server.url), Redis.from_url(server.url)
    try:
        await asyncio.gather(*(client.run([key("one")], [WINDOW_MS]) for _ in range(50)))
        assert (await redis.info("clients"))["connected_clients"] == 2  # ours and redis-py's
    finally:
        await redis.aclose()


async def test_killed_redis_fails_fast_then_recovers(own_redis: Servers, clients: Clients) -> None:
    server = own_redis()
    client, name = clients(server.url, timeout=5.0), key("kill")
    assert (await client.run([name], [WINDOW_MS]))[0] == 1
    server.signal(signal.SIGSTOP)  # so that calls are pending when it dies
    pending = [asyncio.ensure_future(client.run([name], [WINDOW_MS])) for _ in range(3)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    server.kill()
    replies = await asyncio.gather(*pending, return_exceptions=True)
    with pytest.raises(ConnectionError, match="cannot connect"):
        await client.run([name], [WINDOW_MS])
    assert time.monotonic() - started < 1.0
    assert all(isinstance(reply, ConnectionError) for reply in replies), replies
    server.start()
    assert (await client.run([name], [WINDOW_MS]))[0] == 1  # counters are not persisted


async def test_hung_redis_times_out_then_recovers(own_redis: Servers, clients: Clients) -> None:
    server = own_redis()
    client, name = clients(server.url, timeout=0.5), key("hang")
    assert (await client.run([name], [WINDOW_MS]))[0] == 1
    server.signal(signal.SIGSTOP)
    started = time.monotonic()
    calls = (client.run([name], [WINDOW_MS]) for _ in range(3))
    replies = await asyncio.gather(*calls, return_exceptions=True)
    assert time.monotonic() - started < 0.5 + 0.3
    assert isinstance(replies[0], TimeoutError)
    assert all(isinstance(reply, ConnectionError) for reply in replies[1:]), replies
    server.signal(signal.SIGCONT)
    assert (await client.run([name], [WINDOW_MS]))[0] >= 2


async def test_cancelled_calls_keep_stream_in_step(own_redis: Servers, clients: Clients) -> None:
    server = own_redis()
    client = clients(server.url, ECHO, timeout=5.0)
    assert await client.run([], ["warm"]) == b"warm"
    server.signal(signal.SIGSTOP)
    tasks = [asyncio.ensure_future(client.run([], [i])) for i in range(20)]
    await asyncio.sleep(0.05)
    for task in tasks[::2]:
        task.cancel()
    server.signal(signal.SIGCONT)
    assert await asyncio.gather(*tasks[1::2]) == [b"%d" % i for i in range(1, 20, 2)]
    assert await client.run([], ["after"]) == b"after"


async def test_aclose_fails_pending_and_later_calls(redis_url: str, clients: Clients) -> None:
    client = clients(redis_url, ECHO)
    assert await client.run([], ["warm"]) == b"warm"
    pending = asyncio.ensure_future(client.run([], ["late"]))
    await asyncio.sleep(0)
    await client.aclose()
    with pytest.raises(ConnectionError):
        await pending
    with pytest.raises(ConnectionError):
        await client.run([], ["after"])


def test_supports_plain_redis_urls_only() -> None:
    good = ["redis://localhost", "redis://u:p@10.0.0.1:6380/2", "redis://[::1]:6379/0"]
    bad = ["rediss://localhost/0", "unix:///run/redis.sock", "redis://localhost:6379/0?x=1"]
    assert all(map(supports, good))
    odd = ["redis://localhost:port", "redis:///0", "redis://localhost/\u00b2"]  # \u00b2.isdigit()
    assert not any(map(supports, [*bad, *odd]))
