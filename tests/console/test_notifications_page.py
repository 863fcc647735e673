"""Administration > Notifications through the console: webhooks created with the signing
secret shown once, edited, tested against a real receiver on 127.0.0.1, their deliveries
shown, deleted; the SMTP settings saved with the password never shown back; administrators
with Network settings only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from console_support import Console, add_user, field_error
from sqlalchemy import select

from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.storage.tables import smtp_settings, webhooks
from tokendesk.wiring import Tokendesk

SMTP_PASSWORD = "console-smtp-pa55word"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The receiver is plain http on 127.0.0.1.
    return settings.model_copy(update={"allow_http_loopback": True,
                                       "egress_allowlist": "127.0.0.1"})


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def create(admin: Console, receiver: WebhookReceiver) -> tuple[str, str]:
    """Add a webhook through the form; returns its id and the secret shown."""
    page = admin.post("/admin/notifications/webhooks", {
        "url": receiver.url, "events": ["token.refresh_failed", "connection.misconfigured"],
        "description": "on-call"})
    assert page.status_code == 201, page.text[:2000]
    secret = re.search(r'id="signing-secret">(whsec_[^<]+)<', page.text)
    found = re.search(r'href="/admin/notifications/webhooks/([^"]+)"', page.text)
    assert secret is not None and found is not None
    return found.group(1), secret.group(1)


def test_a_new_webhook_shows_its_signing_secret_once(
    admin: Console, td: Tokendesk, receiver: WebhookReceiver
) -> None:
    webhook_id, secret = create(admin, receiver)

    listed = admin.get("/admin/notifications").text
    detail = admin.get(f"/admin/notifications/webhooks/{webhook_id}").text

    assert "shown this once" not in listed and secret not in listed
    assert secret not in detail and receiver.url in detail
    with td.engine.connect() as conn:
        [row] = conn.execute(select(webhooks)).all()
    assert secret not in str(row._mapping)


def test_a_webhook_is_tested_edited_and_deleted(
    admin: Console, receiver: WebhookReceiver
) -> None:
    webhook_id, secret = create(admin, receiver)
    receiver.secret = secret
    path = f"/admin/notifications/webhooks/{webhook_id}"

    tested = admin.follow(admin.post(f"{path}/test"))
    edited = admin.follow(admin.post(path, {"url": receiver.url, "events": ["token.recovered"],
                                            "description": "renamed"}))
    deleted = admin.follow(admin.post(f"{path}/delete"))

    assert "The receiver took the test event." in tested.text
    assert "webhook.test" in tested.text and "Delivered" in tested.text
    assert [r.type for r in receiver.received] == ["webhook.test"] and receiver.refused == []
    assert "The webhook was saved." in edited.text and "renamed" in edited.text
    assert 'value="token.recovered" checked' in edited.text
    assert 'id="f-enabled" name="enabled">' in edited.text  # not ticked: now disabled
    assert "The webhook was deleted" in deleted.text and receiver.url not in deleted.text
    assert secret not in tested.text + edited.text + deleted.text


def test_a_bad_webhook_is_refused_next_to_its_field(admin: Console) -> None:
    page = admin.post("/admin/notifications/webhooks", {"url": "ftp://hooks.example.com",
                                                         "events": ["token.recovered"]})
    no_events = admin.post("/admin/notifications/webhooks", {"url": "https://hooks.example.com"})

    assert page.status_code == 422
    assert field_error(page.text, "url")
    assert no_events.status_code == 422
    assert field_error(no_events.text, "events")


def test_the_smtp_settings_are_saved_and_the_password_never_shown_back(
    admin: Console, td: Tokendesk
) -> None:
    saved = admin.follow(admin.post("/admin/notifications/smtp", {
        "enabled": "on", "host": "mail.corp.example", "port": "2525", "starttls": "on",
        "username": "notifier", "password": SMTP_PASSWORD,
        "from_address": "tokendesk@corp.example"}))
    kept = admin.follow(admin.post("/admin/notifications/smtp", {
        "enabled": "on", "host": "mail.corp.example", "port": "2525",
        "username": "notifier", "from_address": "tokendesk@corp.example"}))

    assert "The SMTP settings were saved" in saved.text
    assert 'value="mail.corp.example"' in saved.text and 'value="2525"' in saved.text
    assert "A password is stored" in kept.text
    assert 'id="f-starttls" name="starttls">' in kept.text  # unchecked now
    assert SMTP_PASSWORD not in admin.every_page()
    with td.transaction() as tx:
        server = td.mail.server(tx)
    assert server.password is not None and server.password.reveal() == SMTP_PASSWORD
    with td.engine.connect() as conn:
        assert SMTP_PASSWORD not in str(conn.execute(select(smtp_settings)).one()._mapping)


def test_a_bad_sender_address_is_shown_under_its_field(admin: Console) -> None:
    page = admin.post("/admin/notifications/smtp", {
        "enabled": "on", "host": "mail.corp.example", "from_address": "nobody",
        "password": SMTP_PASSWORD, "username": "notifier"})

    assert page.status_code == 422
    assert field_error(page.text, "from_address") == (
        "Enter an e-mail address such as name@example.com.")
    assert SMTP_PASSWORD not in page.text


def test_only_administrators_with_network_settings_open_the_page(
    browser: Callable[[], Console], td: Tokendesk
) -> None:
    add_user(td, "manager", "oauth_connections.manage", "oauth_connections.view")
    manager = browser()
    manager.sign_in("manager")

    home = manager.get("/connections")
    refused = manager.get("/admin/notifications")
    posted = manager.post("/admin/notifications/smtp", {"enabled": "on"})

    assert "/admin/notifications" not in home.text
    assert refused.status_code == 403
    assert posted.status_code == 403


def test_an_administrator_gives_a_user_an_email_address(
    admin: Console, td: Tokendesk
) -> None:
    add_user(td, "ops", "oauth_connections.manage")

    saved = admin.follow(admin.post("/admin/users/ops", {
        "action": "profile", "display_name": "Ops", "email": "ops@corp.example",
        "role": ["ops-role"]}))
    refused = admin.post("/admin/users/ops", {
        "action": "profile", "display_name": "Ops", "email": "ops at corp",
        "role": ["ops-role"]})

    assert 'value="ops@corp.example"' in saved.text
    with td.transaction() as tx:
        assert td.accounts.get_user(tx, "ops").email == "ops@corp.example"
    assert refused.status_code == 422
    assert field_error(refused.text, "email") == (
        "Enter an e-mail address such as name@example.com.")
