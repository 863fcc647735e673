"""The sync and async clients build the same requests and read the same answers: both are the
one BaseClient and differ only in how they send."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.event_loop import run as run_coroutine
from support.mock_tokendesk import API_KEY, BASE_URL, FakeDesk
from tokendesk.client import AccessToken, AsyncClient, Client
from tokendesk.client.base import BaseClient


def both_clients_ask(desk: FakeDesk, name: str, **kwargs: Any) -> tuple[AccessToken, ...]:
    with Client(BASE_URL + "/", API_KEY, transport=desk.transport) as client:
        synced = client.get_token(name, **kwargs)

    async def fetch() -> AccessToken:
        async with AsyncClient(BASE_URL + "/", API_KEY, transport=desk.transport) as client:
            return await client.get_token(name, **kwargs)

    return synced, run_coroutine(fetch())


def test_both_clients_are_the_one_base_client() -> None:
    assert issubclass(Client, BaseClient) and issubclass(AsyncClient, BaseClient)
    assert "_token_request" not in vars(Client) and "_token_from" not in vars(AsyncClient)


def test_both_send_the_same_handout_request() -> None:
    desk = FakeDesk()

    both_clients_ask(desk, "Sales/EU prod", token_type="user")

    first, second = desk.requests
    assert (first.method, str(first.url)) == (second.method, str(second.url)) == (
        "GET", f"{BASE_URL}/api/v1/connections/Sales%2FEU%20prod/token?token_type=user")
    for request in desk.requests:
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.headers["accept"] == "application/json"


def test_a_forced_refresh_posts_to_the_refresh_endpoint() -> None:
    desk = FakeDesk()

    both_clients_ask(desk, "Reports API", force_refresh=True)

    assert desk.asked() == [("POST", "refresh"), ("POST", "refresh")]
    assert all(r.url.params["token_type"] == "shared" for r in desk.requests)


def test_both_read_the_same_token() -> None:
    synced, awaited = both_clients_ask(FakeDesk(), "Reports API")

    assert (synced.access_token, awaited.access_token) == ("tok-1", "tok-2")
    assert synced.expires_at is not None and synced.expires_at.tzinfo is not None
    assert (synced.scope, synced.kind, synced.connection) == ("api", "shared", "Reports API")


def test_neither_the_api_key_nor_a_token_shows_in_a_repr() -> None:
    desk = FakeDesk()
    with Client(BASE_URL, API_KEY, transport=desk.transport) as client:
        token = client.get_token("Reports API")

        assert API_KEY not in repr(client) and BASE_URL in repr(client)
        assert token.access_token not in repr(token)


@pytest.mark.parametrize("base_url", ["tokendesk.example.test", "ftp://tokendesk.example.test",
                                      "https://"])
def test_a_base_url_that_is_not_http_is_refused_at_once(base_url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        Client(base_url, API_KEY)


def test_the_timeout_applies_to_each_request() -> None:
    desk = FakeDesk()
    with Client(BASE_URL, API_KEY, timeout_s=2.5, transport=desk.transport) as client:
        client.get_token("Reports API")

    assert desk.requests[0].extensions["timeout"] == httpx.Timeout(2.5).as_dict()
