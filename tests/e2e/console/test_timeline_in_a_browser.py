"""A connection's timeline in headless Chromium, from real events: an administrator consents
at the real authorization server, a bot takes tokens, the clock moves on and the token is
refreshed, the grant is revoked at the provider and the next refresh is refused. The page
draws it (bars for the hours with handouts, the consent, the refresh, the failure), asks no
other host, and the browser reports no error (a Content-Security-Policy violation would be
one). The screenshot is the connection page of the README."""

from __future__ import annotations

import shutil
from typing import Any

from browser_support import (
    REPO_ROOT,
    Scene,
    Traffic,
    assert_shows_no_secret,
    screenshot,
    sign_in,
)
from playwright.sync_api import expect
from test_attention_in_a_browser import graph_with_a_shared_token, revoke_at_the_provider

from support.tokendesk_server import Clock

README_SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "connection-page.png"
ONE_HOUR_S = 3600
# The bot's days: hours after the previous round (the token expires after one), handouts.
ROUNDS = ((0, 3), (9, 5), (14, 2), (10, 6), (16, 4), (11, 7), (22, 3), (15, 5), (24, 4))


def take_tokens(scene: Scene, times: int) -> list[str]:
    """The bot asks for the shared token ``times`` times; returns the tokens it got."""
    tokens = []
    for _ in range(times):
        answer = scene.bot.get("/connections/Graph/token", params={"token_type": "shared"})
        assert answer.status_code == 200, answer.text
        tokens.append(answer.json()["access_token"])
    return tokens


def browser_errors(page: Any) -> list[str]:
    """Every error the page's console reports from now on, and every uncaught one."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_the_connection_page_draws_what_happened_to_it(scene: Scene, page: Any) -> None:
    secret = graph_with_a_shared_token(scene, page)  # a consent, in the browser
    clock = scene.server.td.clock
    assert isinstance(clock, Clock)
    tokens: list[str] = []
    for hours_later, handouts in ROUNDS:  # after the first, each round refreshes first
        clock.advance(hours_later * ONE_HOUR_S)
        tokens += take_tokens(scene, handouts)
    revoke_at_the_provider(scene)
    clock.advance(ONE_HOUR_S + 60)
    refused = scene.bot.get("/connections/Graph/token", params={"token_type": "shared"})
    assert refused.json()["error"]["code"] == "reauthentication_required", refused.text
    scene.server.td.audit_buffer.flush()  # handouts are audited in batches
    errors = browser_errors(page)
    traffic = Traffic(page)
    sign_in(page, scene.url, "admin")  # days later: the session of the consent has ended

    page.goto(scene.url + "/connections/Graph")

    chart = page.locator("#timeline-chart")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(len(ROUNDS))  # one for each hour with handouts
    assert [bars.nth(i).get_attribute("data-count") for i in range(len(ROUNDS))] == [
        str(handouts) for _, handouts in ROUNDS]
    expect(chart.locator("circle.consent")).to_have_count(1)
    expect(chart.locator("rect.refresh")).to_have_count(len(ROUNDS) - 1)
    failures = chart.locator("path.failure")  # the refused refresh, the bot's refused handout
    expect(failures).to_have_count(1)
    expect(failures).to_have_attribute("data-count", "2")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300  # drawn at the card's width
    expect(page.locator("#timeline-summary")).to_contain_text(
        "39 tokens handed out (at most 7 in one hour), 8 refreshes, 2 failures")
    expect(page.get_by_role("img", name="Activity per hour in the last 7 days")).to_be_visible()
    expect(page.locator("#timeline-table")).to_contain_text("Tokens handed out")
    traffic.assert_only_to(scene.url)
    traffic.assert_nothing_missing()
    assert errors == []
    assert_shows_no_secret(page, secret, *tokens)
    shutil.copyfile(screenshot(page, "connection-page-timeline"), README_SCREENSHOT)

    page.click("#timeline a:has-text('24 hours')")

    expect(page.get_by_role("img", name="Activity per hour in the last 24 hours")).to_be_visible()
    assert errors == []
