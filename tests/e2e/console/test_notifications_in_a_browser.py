"""Administration > Notifications in real Chromium, with every other host cut off: a webhook
added (its signing secret shown once), tested against a real receiver on 127.0.0.1 that
verifies the signature with the Standard Webhooks library, its deliveries seen, edited and
deleted; the SMTP settings saved with the password never shown back. The console asks no
other host for anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import (
    assert_every_input_is_labelled,
    assert_shows_no_secret,
    screenshot,
    sign_in,
)
from playwright.sync_api import expect

from support.smtp_server import SmtpServer
from support.tokendesk_server import TokendeskServer
from support.webhook_receiver import WebhookReceiver

SMTP_PASSWORD = "browser-smtp-pa55word"


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_an_admin_manages_webhooks_and_email_and_the_console_asks_no_other_host(
    page: Any, tokendesk: TokendeskServer, receiver: WebhookReceiver, smtp: SmtpServer
) -> None:
    own = origin(tokendesk.url)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def offline(route: Any) -> None:
        # As on a desk without the internet: only the desk itself answers.
        if origin(route.request.url) == own:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", offline)
    sign_in(page, tokendesk.url, "admin")
    page.click("nav >> text=Notifications")
    expect(page.locator("h1")).to_have_text("Notifications")
    assert_every_input_is_labelled(page)

    page.fill("#f-url", receiver.url)
    page.uncheck("input[name=events][value='token.expiring']")
    page.fill("#f-description", "On-call receiver")
    page.click("button:has-text('Add webhook')")
    expect(page.locator("#new-secret")).to_contain_text("shown this once")
    secret = page.locator("#signing-secret").inner_text()
    assert secret.startswith("whsec_")
    receiver.secret = secret

    page.check("#f-smtp-enabled")
    page.fill("#f-host", "127.0.0.1")
    page.fill("#f-port", str(smtp.port))
    page.uncheck("#f-starttls")
    page.fill("#f-username", "notifier")
    page.fill("#f-password", SMTP_PASSWORD)
    page.fill("#f-from_address", "tokendesk@example.com")
    page.click("button:has-text('Save e-mail settings')")
    expect(page.locator(".notice.ok")).to_contain_text("The SMTP settings were saved")
    expect(page.locator("#f-password")).to_have_value("")
    expect(page.locator("[data-field=password] .hint")).to_contain_text("A password is stored")
    assert_shows_no_secret(page, SMTP_PASSWORD, secret)
    screenshot(page, "notifications")

    page.click("#webhooks a")
    page.click("button:has-text('Send a test event')")
    expect(page.locator(".notice.ok")).to_contain_text("The receiver took the test event.")
    expect(page.locator("#deliveries")).to_contain_text("webhook.test")
    expect(page.locator("#deliveries")).to_contain_text("Delivered")
    assert [r.type for r in receiver.received] == ["webhook.test"]
    assert receiver.refused == []
    assert_shows_no_secret(page, secret)
    assert_every_input_is_labelled(page)
    screenshot(page, "webhook-deliveries")

    page.uncheck("input[name=events][value='token.recovered']")
    page.click("button:has-text('Save')")
    expect(page.locator(".notice.ok")).to_contain_text("The webhook was saved.")
    expect(page.locator("input[name=events][value='token.recovered']")).not_to_be_checked()

    page.click("button:has-text('Delete webhook')")
    expect(page.locator(".notice.ok")).to_contain_text("The webhook was deleted")
    expect(page.locator("#webhooks-title + p")).to_contain_text("No webhook yet")

    others = [url for url in requested if origin(url) != own and not url.startswith("data:")]
    assert others == [], others
