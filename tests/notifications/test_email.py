"""E-mail notifications through a real SMTP server on 127.0.0.1 (aiosmtpd): each event
e-mails the users who can fix it, once, across replicas and an SMTP outage, with STARTTLS
verified against a self-signed certificate made in the test; never a token or a secret.

Real database (SQLite and PostgreSQL), real SMTP server; the clock is the test's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from notification_support import open_replica
from prometheus_client import generate_latest
from pydantic import SecretStr
from sqlalchemy import select

from support.api import CLIENT_SECRET, make_user
from support.smtp_server import SmtpServer, self_signed_certificate
from tokendesk.config import Settings
from tokendesk.domain.connections import Connection, ConnectionStatus
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import SmtpSettingsInput, UserUpdate
from tokendesk.storage.tables import email_attempts, email_messages, smtp_settings
from tokendesk.storage.tokens import TokenRepository
from tokendesk.wiring import Tokendesk
from tokens.lifecycle_support import (
    FakeProvider,
    ManualClock,
    create_connection,
    create_invited_role,
    store_token,
)

SMTP_PASSWORD = "smtp-pass-Zq81"
MANAGE = [Permission.MANAGE_CONNECTIONS.value]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def configure(td: Tokendesk, server: SmtpServer, **changes: object) -> None:
    values: dict[str, object] = {"enabled": True, "host": "127.0.0.1", "port": server.port,
                                 "starttls": False, "from_address": "tokendesk@example.com"}
    values.update(changes)
    with td.transaction() as tx:
        td.mail.save(tx, command_line_principal(), SmtpSettingsInput.model_validate(values))


def user(td: Tokendesk, username: str, email: str | None, permissions: list[str]) -> str:
    """A user with ``permissions`` and ``email``; returns the user's id."""
    make_user(td, username, permissions=permissions)
    with td.transaction() as tx:
        found = td.accounts.update_user(tx, command_line_principal(), username,
                                        UserUpdate(email=email))
    return found.id


def misconfigure(td: Tokendesk, connection: Connection) -> None:
    with td.transaction() as tx:
        td.connections.mark_status(tx, connection, ConnectionStatus.MISCONFIGURED,
                                   "the provider said invalid_client")


def fail(td: Tokendesk, connection: Connection, token_id: str) -> None:
    with td.transaction() as tx:
        row = TokenRepository(tx).get(token_id)
        assert row is not None
        TokenRepository(tx).update(token_id, {"failure_count": 1})
        td.events.token_failed(tx, connection, row, failures=1, refused_for_good=False,
                               reason="the provider did not answer", next_attempt_at=None)


def rows(td: Tokendesk, table: object) -> list[dict[str, object]]:
    with td.transaction(read_only=True) as tx:
        return [dict(r._mapping) for r in tx.execute(select(table))]  # type: ignore[call-overload]


def test_a_connection_event_emails_every_user_with_manage_connections(
    td: Tokendesk, connection: Connection, smtp: SmtpServer
) -> None:
    configure(td, smtp)
    user(td, "ops", "ops@example.com", MANAGE)
    user(td, "ops-no-address", None, MANAGE)
    user(td, "reader", "reader@example.com", [Permission.VIEW_CONNECTIONS.value])
    misconfigure(td, connection)

    assert td.mailer.run_once() == 1

    [got] = smtp.messages()
    assert got.rcpt_tos == ["ops@example.com"]
    assert got.mail_from == "tokendesk@example.com"
    assert connection.name in got.message["Subject"]
    body = got.message.get_content()
    assert "the provider said invalid_client" in body
    assert f"https://tokendesk.example.test/connections/{connection.name}" in body
    assert CLIENT_SECRET.encode() not in got.raw


def test_a_user_specific_token_event_emails_only_its_user(
    td: Tokendesk, connection: Connection, smtp: SmtpServer
) -> None:
    configure(td, smtp)
    user(td, "ops", "ops@example.com", MANAGE)
    alice = user(td, "alice", "alice@example.com", [])
    row = store_token(td, connection, kind=TokenKind.USER, user_id=alice,
                      access_token="at-secret-alice", refresh_token="rt-secret-alice")
    fail(td, connection, row.id)

    td.mailer.run_once()

    [got] = smtp.messages()
    assert got.rcpt_tos == ["alice@example.com"]
    assert "your user-specific token" in got.message.get_content()
    assert "/my/connections/" in got.message.get_content()
    for secret in ("at-secret-alice", "rt-secret-alice", CLIENT_SECRET):
        assert secret.encode() not in got.raw


def test_no_email_is_made_while_email_is_disabled(
    td: Tokendesk, connection: Connection, smtp: SmtpServer
) -> None:
    configure(td, smtp, enabled=False)
    user(td, "ops", "ops@example.com", MANAGE)
    misconfigure(td, connection)

    assert td.mailer.run_once() == 0
    assert rows(td, email_messages) == []
    assert smtp.messages() == []


def test_starttls_with_a_self_signed_certificate_and_a_login(
    settings: Settings, clock: ManualClock, provider: FakeProvider, tmp_path: Path,
) -> None:
    certificate = self_signed_certificate(tmp_path / "tls")
    server = SmtpServer(certificate=certificate, login=("notifier", SMTP_PASSWORD)).start()
    td = open_replica(settings.model_copy(update={"ca_bundle": certificate.cert_file}),
                      clock, provider)
    try:
        configure(td, server, starttls=True, username="notifier",
                  password=SecretStr(SMTP_PASSWORD))
        user(td, "ops", "ops@example.com", MANAGE)
        create_invited_role(td)
        misconfigure(td, create_connection(td))
        assert td.mailer.run_once() == 1
    finally:
        td.close()
        server.stop()

    [got] = server.messages()
    assert got.tls and got.login == "notifier"


def test_the_smtp_password_is_stored_encrypted_and_never_shown(
    td: Tokendesk, smtp: SmtpServer
) -> None:
    configure(td, smtp, username="notifier", password=SecretStr(SMTP_PASSWORD))

    [row] = rows(td, smtp_settings)
    assert SMTP_PASSWORD not in str(row)
    with td.transaction(read_only=True) as tx:
        shown = td.mail.settings(tx)
        server = td.mail.server(tx)
    assert shown.has_password and SMTP_PASSWORD not in repr(shown)
    assert server.password is not None and server.password.reveal() == SMTP_PASSWORD
    assert SMTP_PASSWORD not in repr(server)

    configure(td, smtp, username="notifier")  # no password typed: the stored one stays
    with td.transaction(read_only=True) as tx:
        assert td.mail.server(tx).password is not None


def test_a_certificate_nobody_trusts_fails_the_attempt_in_plain_words(
    td: Tokendesk, connection: Connection, tmp_path: Path
) -> None:
    server = SmtpServer(certificate=self_signed_certificate(tmp_path / "tls")).start()
    try:
        configure(td, server, starttls=True)
        user(td, "ops", "ops@example.com", MANAGE)
        misconfigure(td, connection)
        assert td.mailer.run_once() == 0
    finally:
        server.stop()

    assert server.messages() == []
    [attempt] = rows(td, email_attempts)
    assert attempt["outcome"] == "retrying"
    assert "STARTTLS with the SMTP server failed" in str(attempt["error"])


def test_a_wrong_password_is_said_without_the_password(
    settings: Settings, clock: ManualClock, provider: FakeProvider, tmp_path: Path,
) -> None:
    certificate = self_signed_certificate(tmp_path / "tls")
    server = SmtpServer(certificate=certificate, login=("notifier", "the-right-one")).start()
    td = open_replica(settings.model_copy(update={"ca_bundle": certificate.cert_file}),
                      clock, provider)
    try:
        configure(td, server, starttls=True, username="notifier",
                  password=SecretStr(SMTP_PASSWORD))
        user(td, "ops", "ops@example.com", MANAGE)
        create_invited_role(td)
        misconfigure(td, create_connection(td))
        assert td.mailer.run_once() == 0
        [message] = rows(td, email_messages)
    finally:
        td.close()
        server.stop()

    assert "refused the user name or password" in str(message["last_error"])
    assert SMTP_PASSWORD not in str(message)
    assert server.messages() == []


def test_an_smtp_server_down_then_up_gets_each_email_once(
    td: Tokendesk, connection: Connection, clock: ManualClock
) -> None:
    server = SmtpServer()  # not started: connections refused
    configure(td, server)
    user(td, "ops", "ops@example.com", MANAGE)
    misconfigure(td, connection)

    assert td.mailer.run_once() == 0
    clock.advance(2)
    assert td.mailer.run_once() == 0  # not due yet: backing off
    [attempt] = rows(td, email_attempts)
    assert "could not be reached" in str(attempt["error"])

    server.start()
    try:
        clock.advance(3600)
        assert td.mailer.run_once() == 1
        clock.advance(3600)
        assert td.mailer.run_once() == 0
    finally:
        server.stop()

    assert [m.rcpt_tos for m in server.messages()] == [["ops@example.com"]]
    assert [a["outcome"] for a in rows(td, email_attempts)] == ["retrying", "sent"]
    metrics = generate_latest(td.metrics.registry).decode()
    assert 'email_attempts_total{outcome="retrying"} 1.0' in metrics
    assert 'email_attempts_total{outcome="sent"} 1.0' in metrics


def test_two_replicas_never_send_the_same_email_twice(
    td: Tokendesk, connection: Connection, smtp: SmtpServer, settings: Settings,
    clock: ManualClock, provider: FakeProvider,
) -> None:
    configure(td, smtp)
    for n in range(3):
        user(td, f"ops{n}", f"ops{n}@example.com", MANAGE)
    misconfigure(td, connection)
    misconfigure(td, create_connection(td, name="Second"))
    other = open_replica(settings, clock, provider)
    try:
        barrier = threading.Barrier(2)

        def run(desk: Tokendesk) -> None:
            barrier.wait()
            for _ in range(3):
                desk.mailer.run_once()

        threads = [threading.Thread(target=run, args=(d,)) for d in (td, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()

    sent = sorted((m.rcpt_tos[0], m.message["Subject"]) for m in smtp.messages())
    assert len(sent) == len(set(sent)) == 6


def test_a_bad_sender_address_is_refused_by_field(td: Tokendesk, smtp: SmtpServer) -> None:
    with pytest.raises(ValidationError) as caught:
        configure(td, smtp, from_address="not an address")
    assert caught.value.field == "from_address"
    with pytest.raises(ValidationError) as caught:
        user(td, "ops", "nobody", MANAGE)
    assert caught.value.field == "email"


def test_an_smtp_server_the_egress_policy_refuses_is_not_called(
    settings: Settings, clock: ManualClock, provider: FakeProvider, smtp: SmtpServer,
) -> None:
    td = open_replica(settings.model_copy(update={"egress_allowlist": ""}), clock, provider)
    try:
        configure(td, smtp, host="localhost")  # a name: checked when resolved, at sending
        user(td, "ops", "ops@example.com", MANAGE)
        create_invited_role(td)
        misconfigure(td, create_connection(td))
        assert td.mailer.run_once() == 0
        [attempt] = rows(td, email_attempts)
    finally:
        td.close()

    assert smtp.messages() == []
    assert "Tokendesk does not call such addresses" in str(attempt["error"])


def test_emails_wait_while_email_is_turned_off_and_go_once_it_is_on_again(
    td: Tokendesk, connection: Connection, smtp: SmtpServer, clock: ManualClock
) -> None:
    configure(td, smtp)
    user(td, "ops", "ops@example.com", MANAGE)
    misconfigure(td, connection)
    td.mailer.dispatcher.dispatch()  # the e-mail is written while e-mail is on
    configure(td, smtp, enabled=False)

    assert td.mailer.run_once() == 0
    configure(td, smtp)
    assert td.mailer.run_once() == 0  # looked at again a minute later
    clock.advance(61)
    assert td.mailer.run_once() == 1

    assert [m.rcpt_tos for m in smtp.messages()] == [["ops@example.com"]]
    assert [a["outcome"] for a in rows(td, email_attempts)] == ["sent"]


def test_sent_emails_are_forgotten_after_30_days(
    td: Tokendesk, connection: Connection, smtp: SmtpServer, clock: ManualClock
) -> None:
    configure(td, smtp)
    user(td, "ops", "ops@example.com", MANAGE)
    misconfigure(td, connection)
    assert td.mailer.run_once() == 1

    clock.advance(29 * 24 * 3600)
    td.mailer.run_once()
    kept = rows(td, email_messages)
    clock.advance(2 * 24 * 3600)
    td.mailer.run_once()

    assert [m["state"] for m in kept] == ["sent"]
    assert rows(td, email_messages) == [] and rows(td, email_attempts) == []


def test_an_email_is_given_up_three_days_after_its_event(
    td: Tokendesk, connection: Connection, clock: ManualClock
) -> None:
    configure(td, SmtpServer())  # never started: connections refused
    user(td, "ops", "ops@example.com", MANAGE)
    misconfigure(td, connection)

    td.mailer.run_once()
    clock.advance(3 * 24 * 3600)
    td.mailer.run_once()
    clock.advance(3600)

    assert td.mailer.run_once() == 0
    [message] = rows(td, email_messages)
    assert message["state"] == "failed"
    assert [a["outcome"] for a in rows(td, email_attempts)] == ["retrying", "gave_up"]
