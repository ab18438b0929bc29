"""The open-loop load generator of `make soak`: mixed traffic at a fixed arrival rate.

Request `i` of a phase is due at `start + i / rate`, whatever happened to earlier ones: a slow
server never lowers the offered rate, and each latency counts from the due time (not from
when a free connection was found), so queueing anywhere shows in the figures.
"""

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.transport.h1client import ConnectFailed, H1Error, ReadTimeout
from scripts.soak.client import Gateway, HTTPFailure

# (kind, share of requests). Refreshes rotate the session's refresh token; reads use metadata.
MIX: tuple[tuple[str, int], ...] = (
    ("predict_iris", 30),
    ("predict_breast_cancer", 15),
    ("v2_infer_iris", 25),
    ("token_refresh", 5),
    ("get_models", 8),
    ("get_model", 8),
    ("v2_model_metadata", 9),
)
IRIS_ROWS = (
    (5.1, 3.5, 1.4, 0.2),
    (6.2, 2.9, 4.3, 1.3),
    (7.7, 3.0, 6.1, 2.3),
    (5.8, 2.7, 5.1, 1.9),
)
IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
TIMED_OUT = 0  # status of a request that got no answer within the client timeout
RELOGIN_ATTEMPTS = 3
SURPRISES = 10  # unexpected answers kept, with their bodies
GATEWAY_SHED = "The gateway is at capacity"  # its 503 when over GATEWAY_MAX_IN_FLIGHT
FAILED = -1  # status of a request that failed at the transport (refused, reset, ...)


@dataclass
class Session:
    """One virtual client: a user logged in from its own address (behind the trusted proxy)."""

    username: str
    address: str
    access_token: str
    refresh_token: str
    refreshing: bool = False
    unspent: bool = False  # the last refresh was refused before the auth-service saw it
    relogins: int = 0


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it was due (s since the run began), its answer and its latency."""

    phase: str
    kind: str
    due_s: float
    status: int
    latency_ms: float
    lag_ms: float  # how late the generator sent it (its own scheduling delay)


@dataclass
class Traffic:
    """Builds the mixed requests and keeps every session's tokens current."""

    gateway: Gateway
    sessions: list[Session]
    cancer_row: dict[str, float]
    login: Callable[[Session], Awaitable[None]]
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311
    redirected_refreshes: int = 0
    lost_sessions: int = 0
    surprises: list[dict[str, object]] = field(default_factory=list)

    def pick(self, index: int) -> tuple[str, Session]:
        """The kind and session of request `index` (round-robin sessions, weighted kinds)."""
        kinds, weights = zip(*MIX, strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        session = self.sessions[index % len(self.sessions)]
        if kind == "token_refresh" and session.refreshing:
            # Never two refreshes of one session at once: the second would reuse the token.
            idle = [s for s in self.sessions if not s.refreshing]
            self.redirected_refreshes += 1
            session = idle[index % len(idle)] if idle else session
            kind = kind if idle else "get_models"
        if kind == "token_refresh":
            # Marked now, not when the request starts: a generator running late creates many
            # requests before any of them runs. `settle_refresh` clears it.
            session.refreshing = True
        return kind, session

    async def send(self, kind: str, session: Session) -> int:
        """Send one request of `kind` as `session`; its status."""
        if kind == "token_refresh":
            return await self._refresh(session)
        headers = [
            (b"authorization", b"Bearer " + session.access_token.encode()),
            (b"x-forwarded-for", session.address.encode()),
        ]
        if kind.startswith(("predict", "v2_infer")):
            headers.append((b"content-type", b"application/json"))
            status, body = await self.gateway.call("POST", _PATHS[kind], headers, self._body(kind))
        else:
            status, body = await self.gateway.call("GET", _PATHS[kind], headers)
        self._note(kind, status, body)
        return status

    def _note(self, kind: str, status: int, body: bytes) -> None:
        """Keep the first few answers that are neither 2xx nor a 429/503, for the report."""
        if status >= 300 and status not in {429, 503} and len(self.surprises) < SURPRISES:
            text = body[:300].decode("utf-8", "replace")
            self.surprises.append({"kind": kind, "status": status, "body": text})

    def _body(self, kind: str) -> bytes:
        row = IRIS_ROWS[self.rng.randrange(len(IRIS_ROWS))]
        if kind == "predict_iris":
            instance = dict(zip(IRIS_FEATURES, row, strict=True))
            body: dict[str, Any] = {
                "instances": [instance],
                "return_probabilities": self.rng.random() < 0.5,
            }
        elif kind == "predict_breast_cancer":
            body = {"instances": [self.cancer_row]}
        else:
            tensor = {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": list(row)}
            body = {"inputs": [tensor]}
        return json.dumps(body).encode()

    async def _refresh(self, session: Session) -> int:
        form = {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
        session.unspent = False
        status, tokens = await self.gateway.form("/auth/token", form, session.address)
        self._note("token_refresh", status, json.dumps(tokens).encode())
        # Refused before it reached the auth-service: a rate limit, or the gateway shedding.
        # A 503 of the auth-service itself (Redis slow) may come after the token was spent.
        shed = str(tokens.get("error_description", "")).startswith(GATEWAY_SHED)
        session.unspent = status == 429 or (status == 503 and shed)
        if status == 200:
            session.access_token = tokens["access_token"]
            session.refresh_token = tokens["refresh_token"]
        return status

    async def settle_refresh(self, session: Session, status: int) -> None:
        """After a refresh: a 429 or the gateway's own 503 left the token unspent; any other
        failure may have spent it, so log in afresh: reusing it would revoke its family."""
        if status == 200 or session.unspent:
            session.refreshing = False
            return
        session.relogins += 1
        for _ in range(RELOGIN_ATTEMPTS):
            try:
                await self.login(session)
            except (H1Error, HTTPFailure, TimeoutError):
                await asyncio.sleep(1)
            else:
                session.refreshing = False
                return
        self.lost_sessions += 1  # stays "refreshing": its spent token is never sent again


_PATHS = {
    "predict_iris": "/models/iris/predict",
    "predict_breast_cancer": "/models/breast-cancer/predict",
    "v2_infer_iris": "/v2/models/iris/infer",
    "get_models": "/models",
    "get_model": "/models/breast-cancer",
    "v2_model_metadata": "/v2/models/iris",
}


@dataclass
class LoadGenerator:
    """Runs phases of open-loop traffic back to back and keeps every sample."""

    traffic: Traffic
    timeout_s: float
    origin: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    _index: int = 0
    _tasks: set["asyncio.Task[None]"] = field(default_factory=set)

    async def phase(self, name: str, rate: float, seconds: float) -> tuple[float, float]:
        """Offer `rate` requests/s for `seconds`; (start, end) in s since the origin.

        Returns once the last request is sent, not answered: the next phase follows at
        once, so no gap in arrivals hides a slow recovery. `drain` waits for the answers.
        """
        start = time.monotonic()
        count = round(rate * seconds)
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, session = self.traffic.pick(self._index)
            self._index += 1
            task = asyncio.create_task(self._one(name, kind, session, due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        end = start + count / rate
        delay = end - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return start - self.origin, end - self.origin

    async def drain(self) -> None:
        """Wait until every request sent has its answer (or its timeout)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _one(self, phase: str, kind: str, session: Session, due: float) -> None:
        lag = time.monotonic() - due
        try:
            async with asyncio.timeout_at(due + self.timeout_s):
                status = await self.traffic.send(kind, session)
        except (TimeoutError, ReadTimeout):
            status = TIMED_OUT
        except ConnectFailed as exc:  # no free connection in time counts as a timeout
            status = TIMED_OUT if exc.timed_out else FAILED
        except (H1Error, KeyError):  # KeyError: a 200 from the token endpoint without tokens
            status = FAILED
        latency = time.monotonic() - due
        self.samples.append(
            Sample(phase, kind, due - self.origin, status, latency * 1000, lag * 1000)
        )
        if kind == "token_refresh":
            await self.traffic.settle_refresh(session, status)
