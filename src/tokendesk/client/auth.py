"""``httpx.Auth`` that injects a connection's bearer token and, on a 401 from the resource
server, asks Tokendesk once for a forced refresh."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator

import httpx

from tokendesk.client.core import AsyncClient, Client
from tokendesk.client.models import AccessToken, TokenType

# Ask Tokendesk again a little before expiry rather than send a token that dies in flight.
REUSE_MARGIN_S = 30.0


class TokendeskAuth(httpx.Auth):
    """Use as ``httpx.Client(auth=TokendeskAuth(client, "Salesforce prod"))``."""

    def __init__(self, client: Client, connection: str, token_type: TokenType = "shared") -> None:
        self.client = client
        self.connection = connection
        self.token_type: TokenType = token_type
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def _current(self, *, force: bool = False) -> AccessToken:
        with self._lock:
            if force or self._token is None or self._token.expires_within(REUSE_MARGIN_S):
                self._token = self.client.get_token(
                    self.connection, self.token_type, force_refresh=force
                )
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._current().authorization
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = self._current(force=True).authorization
            yield request


class AsyncTokendeskAuth(httpx.Auth):
    """The asynchronous twin, for ``httpx.AsyncClient``."""

    def __init__(
        self, client: AsyncClient, connection: str, token_type: TokenType = "shared"
    ) -> None:
        self.client = client
        self.connection = connection
        self.token_type: TokenType = token_type
        self._token: AccessToken | None = None

    async def _current(self, *, force: bool = False) -> AccessToken:
        if force or self._token is None or self._token.expires_within(REUSE_MARGIN_S):
            self._token = await self.client.get_token(
                self.connection, self.token_type, force_refresh=force
            )
        return self._token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = (await self._current()).authorization
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = (await self._current(force=True)).authorization
            yield request
