"""What Client and AsyncClient hold alike: the server, the credentials, the operations."""

from servir.client.core import Credentials
from servir.client.ops import Operations

DEFAULT_TIMEOUT = 30.0


class ClientBase:
    """The server's base URL and the credentials; `access_token` and `refresh_token` change
    as the client logs in and refreshes (the CLI stores the refresh token)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ops = Operations(
            Credentials(api_key=api_key, access_token=token, refresh_token=refresh_token)
        )

    @property
    def credentials(self) -> Credentials:
        """The credentials in use: the CLI stores and restores them between commands."""
        return self._ops.creds

    @property
    def access_token(self) -> str | None:
        """The current access token (after login or refresh)."""
        return self._ops.creds.access_token

    @property
    def refresh_token(self) -> str | None:
        """The current refresh token: it rotates on every refresh."""
        return self._ops.creds.refresh_token
