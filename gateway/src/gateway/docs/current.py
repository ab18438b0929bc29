"""The merged OpenAPI document as `/openapi.json` serves it: refetched from the upstreams
when older than its max age, the last good one kept when an upstream fails."""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping

from gateway.config import Settings
from gateway.docs.components import Document
from gateway.docs.openapi_merge import merge, parse_document
from gateway.upstreams.upstream import Upstream, upstream_headers
from servir_runtime.problems import ServiceError

logger = logging.getLogger("gateway.docs")


class MergedOpenAPI:
    """The merged document, refetched from the upstreams when older than `max_age` seconds.

    An upstream that fails keeps its last good document in the merge (or none yet).
    """

    def __init__(
        self,
        *,
        own: Callable[[], Document],
        upstreams: Mapping[str, Upstream],
        internal_token: str,
        max_age: float,
        timeout: float,
    ) -> None:
        self.own = own
        self.upstreams = upstreams
        self.internal_token = internal_token.encode()
        self.max_age = max_age
        self.timeout = timeout
        self.raw: dict[str, bytes] = {}
        self.documents: dict[str, Document | None] = dict.fromkeys(upstreams)
        self.failing: set[str] = set()
        self.body = b""
        self.fetched_at = -float("inf")
        self.lock = asyncio.Lock()

    async def current(self, *, request_id: str) -> bytes:
        """The merged document as JSON, refreshed first when too old."""
        if not self._fresh():
            async with self.lock:  # one refresh at a time; the others wait and share it
                if not self._fresh():
                    await self._refresh_or_keep(request_id)
        return self.body

    async def _refresh_or_keep(self, request_id: str) -> None:
        try:
            await self.refresh(request_id=request_id)
        except Exception:  # a bug, or a document this code cannot read: still never a 500
            logger.exception("OpenAPI refresh failed; serving the last good document")
            self.fetched_at = time.monotonic()
            if not self.body:
                self.body = _json(merge(self.own(), {}))

    def _fresh(self) -> bool:
        return time.monotonic() - self.fetched_at < self.max_age

    async def refresh(self, *, request_id: str) -> None:
        """Fetch every upstream's document; merge again if any changed."""
        changed = await asyncio.gather(*(self._fetch(name, request_id) for name in self.upstreams))
        if any(changed) or not self.body:
            self.body = _json(merge(self.own(), self.documents))
        self.fetched_at = time.monotonic()

    async def _fetch(self, name: str, request_id: str) -> bool:
        """Fetch one upstream's document; True when it changed."""
        headers = upstream_headers([], internal_token=self.internal_token, request_id=request_id)
        try:
            reply = await self.upstreams[name].forward(
                method="GET",
                target="/openapi.json",
                headers=headers,
                body=b"",
                wait_seconds=self.timeout,
            )
        except ServiceError as exc:
            return self._failed(name, exc.detail)
        if reply.status != 200:
            return self._failed(name, f"status {reply.status}")
        changed = reply.body != self.raw.get(name)
        if changed:
            document = parse_document(reply.body)
            if document is None:
                return self._failed(name, "not an OpenAPI document")
            self.raw[name], self.documents[name] = reply.body, document
        if name in self.failing:
            self.failing.discard(name)
            logger.info("upstream OpenAPI document back", extra={"upstream": name})
        return changed

    def _failed(self, name: str, reason: str) -> bool:
        if name not in self.failing:  # once per outage, not per request
            self.failing.add(name)
            logger.warning(
                "upstream OpenAPI document unavailable; serving the last good one",
                extra={"upstream": name, "reason": reason},
            )
        return False


def _json(document: Document) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def merged_openapi(
    settings: Settings, *, own: Callable[[], Document], upstreams: Mapping[str, Upstream]
) -> MergedOpenAPI:
    """The gateway's merged document, as its settings tune it."""
    return MergedOpenAPI(
        own=own,
        upstreams=upstreams,
        internal_token=settings.internal_token.get_secret_value(),
        max_age=settings.openapi_max_age_seconds,
        timeout=settings.openapi_timeout_seconds,
    )
