"""The background refresher keeps tokens fresh before anyone asks, politely per host."""

from __future__ import annotations

from support.desk import Desk
from support.tokendesk_server import Clock
from tokendesk.services.background import BackgroundRefresher

TOKEN_LIFETIME_S = 60


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
