"""The Python SDK bots use, against a running Tokendesk and a real authorization server."""

from __future__ import annotations

import httpx
import pytest

from support.desk import Desk
from support.event_loop import run as run_coroutine
from support.tokendesk_server import Clock
from tokendesk.client import (
    AsyncClient,
    AsyncTokendeskAuth,
    Client,
    TokendeskAuth,
    TokendeskClientError,
)
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S


def bot_key(desk: Desk) -> str:
    return str(desk.bot.headers["authorization"]).removeprefix("Bearer ")


def test_get_token_returns_a_valid_access_token(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")

    with Client(desk.server.url, bot_key(desk)) as client:
        token = client.get_token("Reports API")

    assert token.access_token and token.token_type == "Bearer"
    assert token.expires_at is not None
    assert token.access_token not in repr(token)


def test_errors_carry_the_code_and_where_to_authenticate(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")

    with (
        Client(desk.server.url, bot_key(desk)) as client,
        pytest.raises(TokendeskClientError) as caught,
    ):
        client.get_token("Graph", token_type="user")

    assert caught.value.code == "not_authenticated"
    assert caught.value.authenticate_url == f"{desk.server.url}/my/connections/Graph"


def test_the_async_client_gets_the_same_token(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")

    async def fetch() -> str:
        async with AsyncClient(desk.server.url, bot_key(desk)) as client:
            return (await client.get_token("Reports API")).access_token

    with Client(desk.server.url, bot_key(desk)) as client:
        assert run_coroutine(fetch()) == client.get_token("Reports API").access_token


def resource_server(valid: set[str]) -> httpx.MockTransport:
    """An API that accepts only the bearer tokens in ``valid`` (a fake resource server)."""

    def handle(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return httpx.Response(200 if token in valid else 401, json={"token": token[:4]})

    return httpx.MockTransport(handle)


def test_the_auth_asks_for_a_forced_refresh_once_on_a_401(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Reports API", "cc-basic")
    client = Client(desk.server.url, bot_key(desk))
    stale = client.get_token("Reports API").access_token
    # Past the window in which a forced refresh is answered with the token just issued.
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    accepted: set[str] = set()

    with httpx.Client(
        transport=resource_server(accepted), auth=TokendeskAuth(client, "Reports API")
    ) as api:
        # The resource server no longer accepts the current token: the auth refreshes once.
        first = api.get("https://api.example.test/me")
        accepted.add(client.get_token("Reports API").access_token)
        second = api.get("https://api.example.test/me")
    client.close()

    assert first.status_code == 401  # one forced refresh, then the 401 is returned as is
    assert desk.oauth.token_calls("client_credentials") == 2
    assert second.status_code == 200
    assert stale not in accepted


def test_the_async_auth_injects_the_bearer_token(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")
    with Client(desk.server.url, bot_key(desk)) as client:
        current = client.get_token("Reports API").access_token

    async def call() -> int:
        async with AsyncClient(desk.server.url, bot_key(desk)) as tokens:
            transport = resource_server({current})
            async with httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport() and _async(transport),
                auth=AsyncTokendeskAuth(tokens, "Reports API"),
            ) as api:
                return (await api.get("https://api.example.test/me")).status_code

    assert run_coroutine(call()) == 200


def _async(sync: httpx.MockTransport) -> httpx.MockTransport:
    return sync  # MockTransport serves both sync and async clients
