"""``@requires_token``: hand a function a valid access token of a connection, as agent
frameworks expect of a tool::

    desk = Client.from_workload_identity(url, token_file=...)

    @requires_token("Salesforce prod", client=desk)
    def open_cases(token: AccessToken, account: str) -> list[dict]:
        return httpx.get(..., headers={"Authorization": token.authorization}).json()

    open_cases("ACME")          # the token is fetched (or reused) for each call

An ``async def`` function gets it too: from an :class:`AsyncClient` awaited, or from a
:class:`Client` in a worker thread, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from tokendesk.client.core import AsyncClient, Client
from tokendesk.client.models import AccessToken, TokenType

P = ParamSpec("P")
R = TypeVar("R")
TokenFunction = Callable[Concatenate[AccessToken, P], R]


class _Decorator:
    def __init__(self, name: str, client: Client | AsyncClient, token_type: TokenType) -> None:
        self.name, self.client, self.token_type = name, client, token_type

    @overload
    def __call__(self, function: Callable[Concatenate[AccessToken, P], Awaitable[R]]
                 ) -> Callable[P, Awaitable[R]]: ...

    @overload
    def __call__(self, function: Callable[Concatenate[AccessToken, P], R]) -> Callable[P, R]: ...

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def with_token_async(*args: Any, **kwargs: Any) -> Any:
                return await function(await self._token_async(), *args, **kwargs)
            return with_token_async
        if isinstance(self.client, AsyncClient):
            raise TypeError("An AsyncClient can only hand tokens to an async def function.")

        @functools.wraps(function)
        def with_token(*args: Any, **kwargs: Any) -> Any:
            assert isinstance(self.client, Client)
            return function(self.client.get_token(self.name, self.token_type), *args, **kwargs)
        return with_token

    async def _token_async(self) -> AccessToken:
        if isinstance(self.client, AsyncClient):
            return await self.client.get_token(self.name, self.token_type)
        return await asyncio.to_thread(self.client.get_token, self.name, self.token_type)


def requires_token(name: str, *, client: Client | AsyncClient,
                   token_type: TokenType = "shared") -> _Decorator:
    """A decorator passing a valid :class:`AccessToken` of connection ``name`` as the first
    argument of each call (sync or async). The token's errors are the SDK's
    (:class:`~tokendesk.client.errors.TokendeskError`); raises TypeError when a sync function
    is given an AsyncClient."""
    return _Decorator(name, client, token_type)
