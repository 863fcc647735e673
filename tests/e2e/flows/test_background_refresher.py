"""The background refresher keeps tokens fresh before anyone asks, politely per host."""

from __future__ import annotations

import time

from support.desk import Desk
from support.tokendesk_server import Clock
from tokendesk.tokens.background import BackgroundRefresher

TOKEN_LIFETIME_S = 60
WAIT_S = 15.0


def test_a_token_nearing_expiry_is_refreshed_without_a_handout(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Reports API", "cc-basic")
    first = desk.bot.get("/connections/Reports API/token").json()
    clock.advance(TOKEN_LIFETIME_S - 5)

    tried = desk.server.td.background.sweep()
    after = desk.bot.get("/connections/Reports API/token").json()

    assert tried == 1
    assert desk.oauth.token_calls("client_credentials") == 2
    assert after["access_token"] != first["access_token"]
    assert after["expires_at"] > first["expires_at"]


def test_fresh_tokens_are_left_alone(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")
    desk.bot.get("/connections/Reports API/token").raise_for_status()

    tried = desk.server.td.background.sweep()

    assert tried == 0
    assert desk.oauth.token_calls("client_credentials") == 1


def test_refreshes_never_exceed_the_per_host_cap(desk: Desk, clock: Clock) -> None:
    names = [f"Reports {i}" for i in range(10)]
    for name in names:
        desk.create_connection(name, "cc-basic")
        desk.bot.get(f"/connections/{name}/token").raise_for_status()
    td = desk.server.td
    refresher = BackgroundRefresher(td.transaction, td.refresher, td.clock, workers=8, per_host=3)
    desk.oauth.inject_fault(delay_ms=300, count=10)
    clock.advance(TOKEN_LIFETIME_S - 5)

    try:
        tried = refresher.sweep()
    finally:
        refresher.stop()

    assert tried == 10
    assert desk.oauth.token_calls("client_credentials") == 20
    assert refresher.peak_by_host["127.0.0.1"] == 3
    assert desk.oauth.stats()["token"]["peak_in_flight"] == 3  # as the provider saw it


def test_the_running_refresher_refreshes_a_token_at_its_moment_unasked(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Reports API", "cc-basic")
    first = desk.bot.get("/connections/Reports API/token").json()
    background = desk.server.td.background
    clock.advance(TOKEN_LIFETIME_S / 2)  # its refresh moment: half its lifetime

    background.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while desk.oauth.token_calls("client_credentials") < 2:
            assert time.monotonic() < deadline, "the refresher did not refresh the token"
            time.sleep(0.05)
    finally:
        background.stop()
    after = desk.bot.get("/connections/Reports API/token").json()

    assert desk.oauth.token_calls("client_credentials") == 2  # once, not once per poll
    assert after["access_token"] != first["access_token"]


def test_stopping_the_refresher_is_prompt(desk: Desk) -> None:
    desk.server.td.background.start()
    time.sleep(0.2)  # the poller has read the tokens and waits for the next poll

    started = time.monotonic()
    desk.server.td.background.stop()

    assert time.monotonic() - started < 1.0
