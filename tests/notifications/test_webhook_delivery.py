"""The deliverer: signed deliveries a Standard Webhooks receiver on 127.0.0.1 verifies; every
event once, in order per connection, across a receiver outage of an hour and across two
replicas on one database; flapping damped; each attempt recorded without secrets.

Real database (SQLite and PostgreSQL), real HTTP receiver; the clock is the test's.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from notification_support import open_replica, subscribe
from sqlalchemy import select

from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.domain.connections import Connection, ConnectionStatus
from tokendesk.domain.events import DAMPING_WINDOW_S, EventKind
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.services.inputs import EgressAllowlistInput, WebhookUpdate
from tokendesk.storage.tables import outbox_events, webhook_attempts
from tokendesk.storage.tokens import TokenRepository
from tokendesk.wiring import Tokendesk
from tokens.lifecycle_support import (
    FakeProvider,
    ManualClock,
    create_connection,
    principal,
    store_token,
)

HOUR_S = 3600


def fail(td: Tokendesk, connection: Connection, token_id: str, failures: int = 1) -> None:
    """Record a failed refresh of ``token_id`` as the refresh protocol does, with its event."""
    with td.transaction() as tx:
        row = TokenRepository(tx).get(token_id)
        assert row is not None
        TokenRepository(tx).update(token_id, {"failure_count": failures})
        td.events.token_failed(tx, connection, row, failures=failures, refused_for_good=False,
                               reason="the provider did not answer", next_attempt_at=None)


def recover(td: Tokendesk, connection: Connection, token_id: str) -> None:
    with td.transaction() as tx:
        row = TokenRepository(tx).get(token_id)
        assert row is not None
        TokenRepository(tx).update(token_id, {"failure_count": 0})
        td.events.token_recovered(tx, connection, row)


def misconfigure(td: Tokendesk, connection: Connection) -> None:
    with td.transaction() as tx:
        td.connections.mark_status(tx, connection, ConnectionStatus.MISCONFIGURED, "refused")


def outbox_ids(td: Tokendesk) -> list[str]:
    with td.transaction(read_only=True) as tx:
        return list(tx.execute(select(outbox_events.c.id).order_by(outbox_events.c.seq)).scalars())


def test_a_delivery_is_signed_and_verified_by_the_standard_webhooks_library(
    td: Tokendesk, connection: Connection, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver)
    misconfigure(td, connection)

    assert td.deliverer.run_once() == 1

    assert receiver.refused == []
    [got] = receiver.received
    assert got.type == "connection.misconfigured"
    assert got.id == outbox_ids(td)[0]
    assert got.payload["data"]["connection"]["name"] == connection.name


def test_a_webhook_gets_only_the_events_it_subscribed_to(
    td: Tokendesk, connection: Connection, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver, [EventKind.TOKEN_RECOVERED])
    misconfigure(td, connection)

    assert td.deliverer.run_once() == 0
    assert receiver.received == []


def test_a_receiver_down_for_an_hour_gets_every_event_once_and_in_order(
    td: Tokendesk, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver)
    ledger, books = create_connection(td), create_connection(td, name="Books")
    shared = store_token(td, ledger)
    alice = principal(td, "alice")
    own = store_token(td, ledger, kind=TokenKind.USER, user_id=alice.user_id)
    receiver.stop()
    misconfigure(td, ledger)
    fail(td, ledger, shared.id)
    misconfigure(td, books)
    fail(td, ledger, own.id)

    for _ in range(60):  # an hour, a round a minute, every attempt refused
        td.deliverer.run_once()
        clock.advance(60)
    receiver.start()
    for _ in range(3):
        clock.advance(600)  # retries are at most ten minutes apart
        td.deliverer.run_once()

    assert receiver.refused == []
    assert sorted(receiver.ids()) == sorted(outbox_ids(td))  # each once
    by_connection = [r.payload["data"]["connection"]["name"] for r in receiver.received]
    ledger_types = [
        t for t, c in zip(receiver.types(), by_connection, strict=True) if c == "Ledger"]
    assert ledger_types == [
        "connection.misconfigured", "token.refresh_failed", "token.refresh_failed"]
    ledger_tokens = [r.payload["data"].get("token", {}).get("id") for r in receiver.received
                     if r.payload["data"]["connection"]["name"] == "Ledger"]
    assert ledger_tokens == [None, shared.id, own.id]


def test_every_attempt_is_recorded_with_its_outcome_and_no_secret(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    webhook_id = subscribe(td, receiver)
    receiver.stop()
    misconfigure(td, connection)
    td.deliverer.run_once()
    clock.advance(HOUR_S)
    receiver.start()
    td.deliverer.run_once()

    with td.transaction(read_only=True) as tx:
        [log] = td.webhooks.deliveries(tx, command_line_principal(), webhook_id)
        outcomes = tx.execute(select(webhook_attempts.c.outcome)).scalars().all()
    assert log.delivery.state == "delivered"
    assert [a.outcome for a in log.attempts] == ["retrying", "delivered"]
    assert outcomes == ["retrying", "delivered"]
    assert log.attempts[0].status_code is None
    assert "could not be reached" in (log.attempts[0].error or "")
    assert log.attempts[1].status_code == 204
    assert receiver.secret is not None
    assert receiver.secret.removeprefix("whsec_") not in repr(log)


def test_two_replicas_on_one_database_deliver_each_event_once(
    settings: Settings, td: Tokendesk, clock: ManualClock, provider: FakeProvider,
    receiver: WebhookReceiver,
) -> None:
    other = open_replica(settings, clock, provider)
    try:
        subscribe(td, receiver)
        connections = [create_connection(td, name=f"App {i}") for i in range(6)]
        for connection in connections:
            misconfigure(td, connection)
            misconfigure(other, create_connection(other, name=f"{connection.name} b"))
        start = threading.Barrier(2)

        def deliver(replica: Tokendesk) -> None:
            start.wait()
            for _ in range(5):
                replica.deliverer.run_once()

        threads = [threading.Thread(target=deliver, args=(r,)) for r in (td, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()

    assert receiver.refused == []
    assert len(receiver.ids()) == 12
    assert sorted(receiver.ids()) == sorted(outbox_ids(td))


def test_a_token_flapping_ten_times_in_a_minute_makes_one_failure_and_one_recovery(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver)
    token = store_token(td, connection)
    for _ in range(10):
        fail(td, connection, token.id)
        td.deliverer.run_once()
        clock.advance(2)
        recover(td, connection, token.id)
        td.deliverer.run_once()
        clock.advance(2)

    clock.advance(DAMPING_WINDOW_S)
    td.deliverer.run_once()

    assert receiver.types() == ["token.refresh_failed", "token.recovered"]


def test_a_flapping_token_that_ends_failing_says_failed_once(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver)
    token = store_token(td, connection)
    for _ in range(5):
        fail(td, connection, token.id)
        clock.advance(2)
        recover(td, connection, token.id)
        clock.advance(2)
    fail(td, connection, token.id)

    clock.advance(DAMPING_WINDOW_S)
    td.deliverer.run_once()

    assert receiver.types() == ["token.refresh_failed"]


def test_a_disabled_webhook_gets_nothing_new_and_its_queued_deliveries_wait(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    webhook_id = subscribe(td, receiver)
    misconfigure(td, connection)
    td.deliverer.dispatcher.dispatch()  # queued for the webhook while it was enabled
    enable(td, webhook_id, False)
    misconfigure(td, create_connection(td, name="Books"))  # made while it is disabled
    td.deliverer.run_once()
    assert receiver.received == []

    enable(td, webhook_id, True)
    clock.advance(timedelta(minutes=2).total_seconds())
    td.deliverer.run_once()

    assert [r.payload["data"]["connection"]["name"] for r in receiver.received] == [
        connection.name]


def enable(td: Tokendesk, webhook_id: str, enabled: bool) -> None:
    with td.transaction() as tx:
        td.webhooks.update(tx, command_line_principal(), webhook_id,
                           WebhookUpdate(enabled=enabled))


def test_a_delivery_is_given_up_after_three_days_and_the_next_one_goes(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    webhook_id = subscribe(td, receiver)
    receiver.stop()
    misconfigure(td, connection)
    for _ in range(3 * 24 + 1):  # three days and an hour, a round an hour
        td.deliverer.run_once()
        clock.advance(HOUR_S)
    receiver.start()
    clock.advance(DAMPING_WINDOW_S + 1)
    with td.transaction() as tx:
        td.connections.mark_status(
            tx, td.connections.get_by_id(tx, connection.id) or connection,
            ConnectionStatus.OK, None)
    td.deliverer.run_once()

    with td.transaction(read_only=True) as tx:
        logs = td.webhooks.deliveries(tx, command_line_principal(), webhook_id)
    assert [(log.delivery.kind, log.delivery.state) for log in logs] == [
        ("connection.recovered", "delivered"), ("connection.misconfigured", "failed")]
    assert logs[1].attempts[-1].outcome == "gave_up"
    assert receiver.types() == ["connection.recovered"]


def test_finished_deliveries_and_their_events_are_forgotten_after_thirty_days(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    webhook_id = subscribe(td, receiver)
    misconfigure(td, connection)
    td.deliverer.run_once()
    clock.advance(29 * 24 * HOUR_S)
    td.deliverer.run_once()
    kept = len(outbox_ids(td))

    clock.advance(2 * 24 * HOUR_S)
    td.deliverer.run_once()

    with td.transaction(read_only=True) as tx:
        logs = td.webhooks.deliveries(tx, command_line_principal(), webhook_id)
        attempts = tx.execute(select(webhook_attempts.c.id)).all()
    assert kept == 1
    assert outbox_ids(td) == [] and logs == [] and attempts == []


def test_a_receiver_the_egress_policy_no_longer_allows_is_not_called(
    settings: Settings, td: Tokendesk, clock: ManualClock, provider: FakeProvider,
    receiver: WebhookReceiver,
) -> None:
    strict = open_replica(settings.model_copy(update={"egress_allowlist": ""}), clock, provider)
    try:
        allow(strict, ["127.0.0.1"])
        subscribe(strict, receiver)
        allow(strict, [])  # an administrator takes 127.0.0.1 off the allowlist
        misconfigure(strict, create_connection(strict))
        strict.deliverer.run_once()
        with strict.transaction(read_only=True) as tx:
            errors = tx.execute(select(webhook_attempts.c.error)).scalars().all()
    finally:
        strict.close()

    assert receiver.received == []
    assert len(errors) == 1 and "resolves to a loopback address" in (errors[0] or "")


def allow(td: Tokendesk, entries: list[str]) -> None:
    with td.transaction() as tx:
        td.egress.save(tx, command_line_principal(), EgressAllowlistInput(allowlist=entries))
