"""``Client`` and ``AsyncClient``: fetch access tokens of connections by name.

Both are a :class:`~tokendesk.client.base.BaseClient` and differ only in how they send."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tokendesk.client.base import DEFAULT_TIMEOUT_S, BaseClient
from tokendesk.client.errors import TokendeskClientError, TokendeskError, transport_errors
from tokendesk.client.models import AccessToken, TokenType
from tokendesk.client.workload import WorkloadExchange, token_from_file

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
        self._workload: WorkloadExchange | None = None  # see from_workload_identity
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
        if self._workload is not None:
            return self._exchanged(name, token_type, force_refresh)
        request = self._token_request(name, token_type, force_refresh)
        with transport_errors(self.base_url):
            response = self._http.send(request)
        return self._token_from(response)

    @classmethod
    def from_workload_identity(
        cls,
        base_url: str,
        *,
        token_file: str | Path | None = None,
        token_callable: Callable[[], str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
    ) -> Client:
        """A client without an API key: the workload's token from its platform (a file read
        again for each exchange, or a callable) is exchanged for connections' tokens
        (RFC 8693), each kept until shortly before it expires. Give exactly one source;
        raises ValueError otherwise."""
        if (token_file is None) == (token_callable is None):
            raise ValueError("Give token_file or token_callable (exactly one).")
        source = token_callable if token_callable is not None else \
            token_from_file(token_file)  # type: ignore[arg-type]
        client = cls(base_url, "", timeout_s=timeout_s, transport=transport, verify=verify)
        client._workload = WorkloadExchange(source)
        return client

    def _exchanged(self, name: str, token_type: TokenType, force: bool) -> AccessToken:
        assert self._workload is not None
        kept = None if force else self._workload.cached(name, token_type)
        if kept is not None:
            return kept
        sent_at = self._workload.clock()
        request = self._workload.request(self.base_url, name, token_type, self._timeout)
        with transport_errors(self.base_url):
            response = self._http.send(request)
        return self._workload.accept(response, name, token_type, sent_at)

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
