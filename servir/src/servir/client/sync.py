"""`servir.Client`: the API over a blocking httpx client."""

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from servir.client.base import DEFAULT_TIMEOUT, ClientBase
from servir.client.core import USER_AGENT, Op, build, connection_failed
from shared_schemas.auth import ApiKey, ApiKeyCreated, Me, TokenResponse, User, UserPage
from shared_schemas.inference import (
    ModelMetadata,
    ModelSummary,
    PredictResponse,
    ShadowSpec,
    TrafficSplit,
    V2InferenceResponse,
)

T = TypeVar("T")


class Client(ClientBase):
    """Servir's API, blocking. Failures raise servir.ApiError subclasses (or ConnectionFailed).

    >>> with Client("http://127.0.0.1:8000") as client:
    ...     client.login("admin", password)
    ...     client.predict("iris", [{"sepal_length": 5.1, ...}]).predictions
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key=api_key, token=token, refresh_token=refresh_token)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    def _run(self, op: Op[T]) -> T:
        try:
            call = next(op)
            while True:
                try:
                    response = self._http.send(build(self._http, call, self._ops.creds))
                except httpx.TransportError as error:
                    raise connection_failed(error, self.base_url) from None
                call = op.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def login(self, username: str, password: str, *, scope: str | None = None) -> TokenResponse:
        """Log in with a password (OAuth2 password grant); later calls use the token."""
        return self._run(self._ops.login(username, password, scope))

    def refresh(self) -> TokenResponse:
        """Rotate the refresh token for a new access token."""
        return self._run(self._ops.refresh())

    def logout(self) -> None:
        """Revoke the refresh token (RFC 7009), and with it its access tokens; forget both."""
        self._run(self._ops.logout())

    def me(self) -> Me:
        """Who the credential is, and its scopes."""
        return self._run(self._ops.me())

    def create_api_key(
        self, name: str, scopes: Sequence[str] | None = None, expires_in_days: int | None = None
    ) -> ApiKeyCreated:
        """A new API key; its secret `key` is in this answer only."""
        return self._run(self._ops.create_api_key(name, scopes, expires_in_days))

    def api_keys(self) -> list[ApiKey]:
        """The caller's own keys, without their secrets."""
        return self._run(self._ops.api_keys())

    def revoke_api_key(self, key_id: str) -> None:
        """Delete a key: it stops working at once."""
        self._run(self._ops.revoke_api_key(key_id))

    def users(self, *, limit: int = 50, offset: int = 0) -> UserPage:
        """One page of users (users:admin)."""
        return self._run(self._ops.users(limit, offset))

    def create_user(
        self, username: str, password: str, scopes: Sequence[str] | None = None
    ) -> User:
        """Create a user (users:admin)."""
        return self._run(self._ops.create_user(username, password, scopes))

    def update_user(self, username: str, **changes: Any) -> User:
        """Change a user's `scopes`, `disabled` or `password` (users:admin)."""
        return self._run(self._ops.update_user(username, changes))

    def delete_user(self, username: str) -> None:
        """Delete a user, and every token and key of theirs (users:admin)."""
        self._run(self._ops.delete_user(username))

    def models(self) -> list[ModelSummary]:
        """Every model, with its versions."""
        return self._run(self._ops.models())

    def model(self, name: str) -> ModelMetadata:
        """A model's metadata: features, classes, max_rows, aliases."""
        return self._run(self._ops.model(name))

    def push(self, bundle: str | Path) -> ModelMetadata:
        """Upload a bundle (a folder, packed here, or a .tar.gz); the new version's metadata."""
        return self._run(self._ops.push(bundle))

    def load(self, name: str) -> None:
        """Load (or reload) a model on every replica."""
        self._run(self._ops.repository(name, "load"))

    def unload(self, name: str) -> None:
        """Unload a model on every replica."""
        self._run(self._ops.repository(name, "unload"))

    def delete(self, name: str, version: str) -> None:
        """Delete one version of a model."""
        self._run(self._ops.delete(name, version))

    def set_production(self, name: str, version: str) -> None:
        """Point the model's `production` alias (what unversioned predictions use) at `version`."""
        self._run(self._ops.set_alias(name, "production", version, False))

    def set_alias(
        self, name: str, alias: str, version: str, *, public: bool = False
    ) -> ModelMetadata:
        """Point `alias` of the model at `version` (call it as `predict(..., version=alias)`);
        without `public`, calling it needs models:admin. The model's metadata after."""
        return self._run(self._ops.set_alias(name, alias, version, public))

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias of the model (not `production`)."""
        self._run(self._ops.remove_alias(name, alias))

    def set_traffic(
        self,
        name: str,
        split: dict[str, int],
        *,
        sticky_by: str | None = None,
        shadow: tuple[str, float] | None = None,
    ) -> TrafficSplit:
        """Share the model's unversioned predictions between versions (weights summing to
        100, e.g. `{"1": 90, "2": 10}`); `sticky_by`: `principal` or a header's name;
        `shadow`: (version, sample rate) to copy a sample of them to, compared and dropped."""
        copies = ShadowSpec(version=shadow[0], sample_rate=shadow[1]) if shadow else None
        body = TrafficSplit(split=split, sticky_by=sticky_by, shadow=copies)
        return self._run(self._ops.traffic(name, body))

    def traffic(self, name: str) -> TrafficSplit:
        """The model's traffic split (NotFound while none is set)."""
        return self._run(self._ops.traffic(name))

    def clear_traffic(self, name: str) -> None:
        """Stop splitting: the `production` alias serves again."""
        self._run(self._ops.clear_traffic(name))

    def predict(
        self, name: str, rows: object, *, version: str | None = None, probabilities: bool = False
    ) -> PredictResponse:
        """Predictions for `rows`: a list of dicts, a pandas DataFrame (training column names
        or wire names) or a numpy array (columns in feature order)."""
        return self._run(self._ops.predict(name, rows, version, probabilities))

    def infer(
        self,
        name: str,
        inputs: object,
        *,
        version: str | None = None,
        outputs: Sequence[str] | None = None,
    ) -> V2InferenceResponse:
        """Open Inference Protocol v2 inference: tensors, or a 2-D table as the tensor `input`."""
        return self._run(self._ops.infer(name, inputs, version, outputs))
