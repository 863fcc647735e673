"""``@requires_token``: an async function with an AsyncClient awaits its token; a sync
function cannot be given an AsyncClient."""

from __future__ import annotations

import pytest

from support.event_loop import run as run_coroutine
from support.mock_tokendesk import API_KEY, BASE_URL, FakeDesk
from tokendesk.client import AccessToken, AsyncClient, requires_token


def test_an_async_function_awaits_its_token_from_an_async_client() -> None:
    desk = FakeDesk()

    async def scenario() -> str:
        async with AsyncClient(BASE_URL, API_KEY, transport=desk.transport) as client:
            @requires_token("Reports API", client=client)
            async def call(token: AccessToken) -> str:
                return token.access_token
            return await call()

    assert run_coroutine(scenario()) == "tok-1"


def test_a_sync_function_is_refused_an_async_client() -> None:
    client = AsyncClient(BASE_URL, API_KEY, transport=FakeDesk().transport)

    with pytest.raises(TypeError, match="async def"):
        @requires_token("Reports API", client=client)
        def call(token: AccessToken) -> str:
            return token.access_token
