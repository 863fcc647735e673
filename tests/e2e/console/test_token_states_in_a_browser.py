"""The one vocabulary of token states in Chromium (issue 14, item 6): a token whose refresh
fails reads *Backing off until HH:MM UTC* with the reason and what to do, not "Expired — it
is refreshed on its next use"; *Refresh now* during the back-off says that nothing was sent;
a client-credentials connection never offers to authenticate again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Scene, screenshot, sign_in
from playwright.sync_api import expect

from support.desk import Desk
from support.tokendesk_server import Clock, TokendeskServer

PAST_EXPIRY_S = 65  # the server's tokens live 60 s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokendesk(sqlite_url: str, tmp_path: Path, clock: Clock) -> Iterator[TokendeskServer]:
    server = TokendeskServer(sqlite_url, tmp_path / "data", clock=clock).start()
    yield server
    server.stop()


def test_a_backing_off_token_reads_backing_off_and_refresh_now_says_nothing_was_sent(
    scene: Scene, page: Any, clock: Clock
) -> None:
    desk = Desk(scene.server, scene.oauth, scene.admin, scene.bot)
    desk.create_connection("Billing API", "cc-basic")
    first = scene.bot.get("/connections/Billing API/token")
    assert first.status_code == 200, first.text
    scene.oauth.inject_fault(status=503, count=None)
    clock.advance(PAST_EXPIRY_S)
    failed = scene.bot.get("/connections/Billing API/token")  # the provider's failure
    waiting = scene.bot.get("/connections/Billing API/token")  # the back-off that follows
    assert failed.status_code == 502, failed.text
    assert waiting.status_code == 503 and waiting.json()["error"]["state"] == "backing_off"
    calls = scene.oauth.token_calls()

    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/connections/Billing%20API")
    shared = page.locator("#shared-token")

    expect(shared.locator(".badge")).to_have_text(
        re.compile(r"^Backing off until \d\d:\d\d UTC$"))
    expect(shared.locator("[data-state-reason]")).to_contain_text("HTTP 503")
    expect(shared.locator("[data-state-reason]")).to_contain_text("Tokendesk tries again at")
    expect(shared.locator("[data-state-action]")).to_contain_text(
        "Nothing to do if the provider recovers")
    expect(shared).not_to_contain_text("refreshed on its next use")
    expect(shared).not_to_contain_text("Expired")
    expect(page.locator("main")).not_to_contain_text("uthenticate")  # client credentials
    screenshot(page, "token-backing-off")

    shared.locator("button", has_text="Refresh now").click()

    notice = page.locator(".notice")
    expect(notice).to_contain_text("Not refreshed: nothing was sent to the provider")
    expect(notice).to_contain_text("backing off after a failed refresh until")
    expect(page.locator(".notice.ok")).to_have_count(0)
    expect(page.locator("#shared-token .badge")).to_contain_text("Backing off until")
    assert scene.oauth.token_calls() == calls  # really nothing was sent
    api = scene.admin.get("/connections/Billing API/tokens").json()[0]
    assert api["state"] == "backing_off" and api["state_label"] == page.locator(
        "#shared-token .badge").inner_text()
