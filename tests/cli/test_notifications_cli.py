"""``tokendesk settings smtp`` and ``tokendesk webhooks``: the SMTP settings without their
password shown, and webhooks created (the signing secret printed once), listed, tested
against a real receiver on 127.0.0.1 verifying with the Standard Webhooks library, and
deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.cli import Cli, one_error_line
from support.webhook_receiver import WebhookReceiver
from tokendesk.views.notifications import SmtpOut
from tokendesk.wiring import Tokendesk

SMTP_PASSWORD = "smtp-cli-pa55word"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    # The receiver is plain http on 127.0.0.1.
    return {**env, "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true",
            "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def test_smtp_settings_are_set_and_shown_without_the_password(cli: Cli, td: Tokendesk) -> None:
    assert cli.json("settings", "smtp", "show")["enabled"] is False

    saved = cli.json("settings", "smtp", "set", "--enabled", "--host", "mail.corp.example",
                     "--port", "2525", "--username", "notifier", "--password-stdin",
                     "--from", "tokendesk@corp.example", input=SMTP_PASSWORD + "\n")
    plain = cli.json("settings", "smtp", "set", "--no-starttls")
    shown = cli.ok("settings", "smtp", "show").stdout

    assert set(saved) == set(SmtpOut.model_fields)
    assert (saved["host"], saved["port"], saved["starttls"]) == ("mail.corp.example", 2525, True)
    assert saved["password_stored"] is True
    assert plain["starttls"] is False and plain["password_stored"] is True
    assert "password stored: yes" in shown
    with td.transaction() as tx:
        server = td.mail.server(tx)
    assert server.password is not None and server.password.reveal() == SMTP_PASSWORD
    assert SMTP_PASSWORD not in cli.everything_printed


def test_smtp_errors_name_the_option(cli: Cli) -> None:
    refused = cli("settings", "smtp", "set", "--enabled", "--host", "mail.corp.example",
                  "--from", "nobody")

    assert refused.exit_code == 2, refused.output
    assert "e-mail address" in one_error_line(refused)


def test_a_user_gets_an_email_address(admin_cli: Cli) -> None:
    edited = admin_cli.json("users", "edit", "admin", "--email", "admin@corp.example")

    assert edited["email"] == "admin@corp.example"


def test_webhooks_are_created_listed_tested_and_deleted(
    cli: Cli, receiver: WebhookReceiver
) -> None:
    created = cli.json("webhooks", "create", receiver.url, "--event", "token.refresh_failed",
                       "--event", "connection.misconfigured", "--description", "on-call")
    receiver.secret = created["secret"]
    listed = cli.json("webhooks", "list")
    tested = cli.json("webhooks", "test", created["id"])
    deleted = cli.ok("webhooks", "delete", created["id"])

    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["token.refresh_failed", "connection.misconfigured"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert tested["state"] == "delivered" and tested["event_type"] == "webhook.test"
    assert [r.type for r in receiver.received] == ["webhook.test"]
    assert receiver.refused == []
    assert created["id"] in deleted.stdout
    assert cli.json("webhooks", "list") == []


def test_a_test_the_receiver_does_not_take_fails_with_the_reason(
    cli: Cli, receiver: WebhookReceiver
) -> None:
    created = cli.json("webhooks", "create", receiver.url)
    receiver.stop()

    tested = cli("webhooks", "test", created["id"], "--json")

    assert tested.exit_code == 1
    assert '"state": "pending"' in tested.stdout
    assert created["secret"] not in tested.stdout


def test_bad_webhooks_are_refused_by_field(cli: Cli) -> None:
    refused = cli("webhooks", "create", "https://hooks.example.com/x", "--event", "token.nope")
    missing = cli("webhooks", "delete", "no-such-webhook")

    assert refused.exit_code == 2
    assert "token.nope" in one_error_line(refused)
    assert missing.exit_code != 0
    assert "no webhook" in one_error_line(missing)
