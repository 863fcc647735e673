"""``Client`` and ``AsyncClient``: fetch access tokens of connections by name.

Both are a :class:`~tokendesk.client.base.BaseClient` and differ only in how they send."""

from __future__ import annotations

import httpx

from tokendesk.client.base import DEFAULT_TIMEOUT_S, BaseClient
from tokendesk.client.errors import TokendeskClientError, TokendeskError, transport_errors
from tokendesk.client.models import AccessToken, TokenType

# Importable from here as before the split into modules.
__all__ = ["DEFAULT_TIMEOUT_S", "AccessToken", "AsyncClient", "Client", "TokenType",
           "TokendeskClientError", "TokendeskError"]


class Client(BaseClient):
    """Synchronous SDK. ``transport`` is for tests; close it, or use it as a context manager.

    Raises ValueError for a ``base_url`` that is not an http(s) address."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        super().__init__(base_url, api_key, timeout_s=timeout_s)
        self._http = httpx.Client(transport=transport, verify=verify)
        self._transport, self._verify = transport, verify

    def proxy(self, name: str, token_type: TokenType = "shared") -> httpx.Client:
        """An ``httpx.Client`` for connection ``name``'s API through Tokendesk's API proxy:
        its base URL is ``<desk>/proxy/<name>/``, so ``api.get("/v1/items")`` calls
        ``<API base URL>/v1/items`` with the connection's token, which never reaches this
        process. Close it (or use it as a context manager) when done."""
        return httpx.Client(
            transport=self._transport, verify=self._verify,
            **self._proxy_options(name, token_type),
        )

    def get_token(
        self, name: str, token_type: TokenType = "shared", *, force_refresh: bool = False
    ) -> AccessToken:
        """A valid access token of connection ``name``, refreshed first with ``force_refresh``.

        Raises a :class:`~tokendesk.client.errors.TokendeskError` (see that module's tree).
        """
        request = self._token_request(name, token_type, force_refresh)
        with transport_errors(self.base_url):
            response = self._http.send(request)
        return self._token_from(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(BaseClient):
    """The asynchronous twin of :class:`Client`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        super().__init__(base_url, api_key, timeout_s=timeout_s)
        self._http = httpx.AsyncClient(transport=transport, verify=verify)
        self._transport, self._verify = transport, verify

    def proxy(self, name: str, token_type: TokenType = "shared") -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for connection ``name``'s API through the API proxy; as
        :meth:`Client.proxy`. Close it with ``aclose`` (or ``async with``)."""
        return httpx.AsyncClient(
            transport=self._transport, verify=self._verify,
            **self._proxy_options(name, token_type),
        )

    async def get_token(
        self, name: str, token_type: TokenType = "shared", *, force_refresh: bool = False
    ) -> AccessToken:
        """A valid access token of connection ``name``; raises as :meth:`Client.get_token`."""
        request = self._token_request(name, token_type, force_refresh)
        with transport_errors(self.base_url):
            response = await self._http.send(request)
        return self._token_from(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
