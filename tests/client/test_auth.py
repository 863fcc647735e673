"""The ``httpx.Auth`` of the SDK: it reuses a token until shortly before it expires, asks
Tokendesk again then, and on a 401 of the resource server forces one refresh and retries once;
the sync and the async one alike."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from support.event_loop import run as run_coroutine
from support.mock_tokendesk import API_KEY, BASE_URL, FakeDesk, error_answer
from tokendesk.client import (
    AsyncClient,
    AsyncTokendeskAuth,
    Client,
    ReauthenticationRequired,
    TokendeskAuth,
)
from tokendesk.client.auth import REUSE_MARGIN_S

RESOURCE = "https://api.example.test/me"
Accepts = Callable[[str], bool]


def resource_server(accepts: Accepts, seen: list[str]) -> httpx.MockTransport:
    """An API that answers 200 to the bearer tokens ``accepts`` takes, 401 to the others."""

    def handle(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        seen.append(token)
        return httpx.Response(200 if accepts(token) else 401)

    return httpx.MockTransport(handle)


def call_resource(mode: str, desk: httpx.MockTransport, accepts: Accepts,
                  times: int = 1) -> tuple[list[int], list[str]]:
    """``times`` GETs of the resource with the sync or async auth; statuses and tokens sent."""
    seen: list[str] = []
    if mode == "sync":
        with (Client(BASE_URL, API_KEY, transport=desk) as tokens,
              httpx.Client(transport=resource_server(accepts, seen),
                           auth=TokendeskAuth(tokens, "Reports API")) as api):
            return [api.get(RESOURCE).status_code for _ in range(times)], seen

    async def calls() -> list[int]:
        async with (AsyncClient(BASE_URL, API_KEY, transport=desk) as tokens,
                    httpx.AsyncClient(transport=resource_server(accepts, seen),
                                      auth=AsyncTokendeskAuth(tokens, "Reports API")) as api):
            return [(await api.get(RESOURCE)).status_code for _ in range(times)]

    return run_coroutine(calls()), seen


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def anything(token: str) -> bool:
    return True


@MODES
def test_a_valid_token_is_asked_for_once_and_reused(mode: str) -> None:
    desk = FakeDesk(lifetime_s=3600)

    statuses, sent = call_resource(mode, desk.transport, anything, times=3)

    assert statuses == [200, 200, 200]
    assert sent == ["tok-1"] * 3
    assert desk.asked() == [("GET", "token")]


@MODES
def test_a_token_without_expiry_is_reused(mode: str) -> None:
    desk = FakeDesk(lifetime_s=None)

    call_resource(mode, desk.transport, anything, times=2)

    assert desk.asked() == [("GET", "token")]


@MODES
def test_a_token_expiring_within_the_margin_is_asked_for_again_before_each_call(
    mode: str,
) -> None:
    desk = FakeDesk(lifetime_s=REUSE_MARGIN_S / 2)

    statuses, sent = call_resource(mode, desk.transport, anything, times=2)

    assert statuses == [200, 200]
    assert sent == ["tok-1", "tok-2"]
    assert desk.asked() == [("GET", "token"), ("GET", "token")]


@MODES
def test_a_401_forces_one_refresh_and_one_retry(mode: str) -> None:
    desk = FakeDesk()

    statuses, sent = call_resource(mode, desk.transport, lambda token: token != "tok-1",
                                   times=2)

    assert statuses == [200, 200]
    assert sent == ["tok-1", "tok-2", "tok-2"]  # the refreshed token is then reused
    assert desk.asked() == [("GET", "token"), ("POST", "refresh")]


@MODES
def test_a_second_401_is_returned_as_it_is(mode: str) -> None:
    desk = FakeDesk()

    statuses, sent = call_resource(mode, desk.transport, lambda token: False)

    assert statuses == [401]
    assert sent == ["tok-1", "tok-2"]
    assert desk.asked() == [("GET", "token"), ("POST", "refresh")]


@MODES
def test_a_token_that_needs_consent_raises_the_sdk_error_from_the_call(mode: str) -> None:
    url = f"{BASE_URL}/my/connections/Reports%20API"
    desk = httpx.MockTransport(lambda request: error_answer(
        409, "reauthentication_required", authenticate_url=url))

    with pytest.raises(ReauthenticationRequired) as caught:
        call_resource(mode, desk, anything)

    assert caught.value.authenticate_url == url
