"""The forecasts' job: a token that will need consent, or a client secret that runs out,
within the attention horizon is told once per forecast date as ``token.expiring`` or
``connection.credentials_expiring`` -- by one replica of two, across an outbox purge, and
without damping either stream of events.

Real database (SQLite and PostgreSQL, real migrations), real HTTP receiver verifying with
the Standard Webhooks library; the provider is the fake token endpoint; the clock is the
test's.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from notification_support import open_replica, subscribe
from sqlalchemy import select

from support.api import CLIENT_SECRET
from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.domain.connections import Connection
from tokendesk.domain.events import EventKind, EventState
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.notifications.forecasts import ForecastNotifier
from tokendesk.services.inputs import ConnectionUpdate
from tokendesk.storage.tables import forecast_notices, outbox_events
from tokendesk.storage.tokens import TokenRecord, TokenRepository
from tokendesk.wiring import Tokendesk
from tokens.lifecycle_support import FakeProvider, ManualClock, create_connection

DAY_S = 24 * 3600
RETENTION_S = 30 * DAY_S


def outbox(td: Tokendesk) -> list[dict[str, Any]]:
    with td.transaction(read_only=True) as tx:
        rows = tx.execute(select(outbox_events).order_by(outbox_events.c.seq)).all()
    return [dict(row._mapping) for row in rows]


def kinds(td: Tokendesk) -> list[str]:
    return [row["kind"] for row in outbox(td)]


def store_token(td: Tokendesk, connection: Connection,
                refresh_expires_at: datetime | None = None) -> TokenRecord:
    """A shared token stored as a consent stores it, now; its refresh token expiring at
    ``refresh_expires_at`` as the provider said (None: it said nothing)."""
    tokens = TokenSet(Secret("at-1"), "Bearer", td.clock() + timedelta(hours=1),
                      Secret("rt-1"), refresh_expires_at=refresh_expires_at)
    with td.transaction() as tx:
        stored = td.tokens.store(tx, connection, TokenKind.SHARED, None, tokens)
        record = TokenRepository(tx).get(stored.id)
    assert record is not None
    return record


def enter_secret_expiry(td: Tokendesk, connection: Connection, day: date) -> None:
    with td.transaction() as tx:
        td.connections.update(tx, command_line_principal(), connection.name,
                              ConnectionUpdate(client_secret_expires_on=day))


def jira(td: Tokendesk) -> Connection:
    """A connection of the catalog's Jira, whose refresh tokens Atlassian documents to last
    90 days unused and 365 days after consent."""
    return create_connection(td, name="Jira cloud", provider="jira", authorization_url=None,
                             token_url=None, revocation_url=None,
                             scopes="read:jira-work,offline_access")


def test_a_refresh_token_the_provider_said_expires_within_the_horizon_is_told_once(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver, [EventKind.TOKEN_EXPIRING])
    due = clock() + timedelta(days=10)
    token = store_token(td, connection, refresh_expires_at=due)

    assert td.deliverer.forecasts is not None
    assert td.deliverer.forecasts.run_once() == 1
    assert td.deliverer.forecasts.run_once() == 0
    td.deliverer.run_once()

    assert receiver.refused == []
    (received,) = receiver.received
    assert received.type == "token.expiring"
    data = received.payload["data"]
    assert data["token"] == {"id": token.id, "kind": "shared", "user_id": None}
    assert data["connection"]["name"] == connection.name
    assert data["due_at"] == due.isoformat()
    assert data["source"] == "the provider said"
    assert data["forecast"] == "consent_needed"
    assert "consent again before then" in data["reason"]
    assert CLIENT_SECRET not in receiver.bodies()
    assert "rt-1" not in receiver.bodies() and "at-1" not in receiver.bodies()


def test_a_refresh_token_outside_the_horizon_is_not_told_until_it_comes_within(
    td: Tokendesk, connection: Connection, clock: ManualClock
) -> None:
    store_token(td, connection, refresh_expires_at=clock() + timedelta(days=30))
    notifier = td.deliverer.forecasts
    assert notifier is not None

    assert notifier.run_once() == 0
    clock.advance(15 * DAY_S)  # 15 days left: still outside
    assert notifier.run_once() == 0
    clock.advance(DAY_S)
    assert notifier.run_once() == 1

    assert kinds(td) == ["token.expiring"]


def test_a_token_unused_for_80_days_is_told_as_atlassian_documents(
    td: Tokendesk, clock: ManualClock
) -> None:
    token = store_token(td, jira(td))
    clock.advance(80 * DAY_S)

    assert td.deliverer.forecasts is not None
    td.deliverer.forecasts.run_once()

    (event,) = outbox(td)
    data = event["payload"]["data"]
    assert event["kind"] == "token.expiring"
    assert data["token"]["id"] == token.id
    assert data["source"] == "Atlassian documents 90 days unused"
    assert data["due_at"] == (token.issued_at + timedelta(days=90)).isoformat()


def test_a_secret_expiry_an_administrator_entered_is_told_once_per_date(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver, [EventKind.CONNECTION_CREDENTIALS_EXPIRING])
    notifier = td.deliverer.forecasts
    assert notifier is not None
    enter_secret_expiry(td, connection, clock().date() + timedelta(days=5))
    notifier.run_once()
    notifier.run_once()
    # A new secret was made at the provider; its expiry, also close, is entered.
    enter_secret_expiry(td, connection, clock().date() + timedelta(days=12))
    notifier.run_once()
    for _ in range(2):  # one delivery per connection at a time, in order
        td.deliverer.run_once()

    assert receiver.refused == []
    assert receiver.types() == ["connection.credentials_expiring"] * 2
    first, second = (r.payload["data"] for r in receiver.received)
    assert first["source"] == second["source"] == "entered by an administrator"
    assert first["forecast"] == "secret_expires"
    assert first["due_at"].startswith((clock().date() + timedelta(days=5)).isoformat())
    assert second["due_at"].startswith((clock().date() + timedelta(days=12)).isoformat())
    assert "token" not in first
    assert CLIENT_SECRET not in receiver.bodies()


def test_two_replicas_looking_at_once_tell_each_forecast_once(
    settings: Settings, td: Tokendesk, clock: ManualClock, provider: FakeProvider
) -> None:
    connections = [create_connection(td, name=f"App {i}") for i in range(4)]
    for connection in connections:
        store_token(td, connection, refresh_expires_at=clock() + timedelta(days=3))
        enter_secret_expiry(td, connection, clock().date() + timedelta(days=7))
    other = open_replica(settings, clock, provider)
    written: list[int] = []
    try:
        start = threading.Barrier(2)

        def look(replica: Tokendesk) -> None:
            notifier = replica.deliverer.forecasts
            assert notifier is not None
            start.wait()
            written.append(sum(notifier.run_once() for _ in range(3)))

        threads = [threading.Thread(target=look, args=(r,)) for r in (td, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()

    assert sum(written) == 8
    assert sorted(kinds(td)) == ["connection.credentials_expiring"] * 4 + ["token.expiring"] * 4
    with td.transaction(read_only=True) as tx:
        notices = tx.execute(select(forecast_notices.c.event_id)).scalars().all()
    assert sorted(notices) == sorted(e["id"] for e in outbox(td))


def test_a_forecast_told_is_not_told_again_after_the_outbox_forgot_its_event(
    td: Tokendesk, connection: Connection, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    subscribe(td, receiver, [EventKind.TOKEN_EXPIRING])
    store_token(td, connection, refresh_expires_at=clock() + timedelta(days=10))
    notifier = td.deliverer.forecasts
    assert notifier is not None
    notifier.run_once()
    td.deliverer.run_once()
    clock.advance(RETENTION_S + DAY_S)  # overdue now, and still on the attention list

    td.deliverer.purge_if_due()
    assert outbox(td) == []
    assert notifier.run_once() == 0
    assert len(receiver.received) == 1


def test_a_forecast_is_not_held_by_a_failure_just_told_nor_holds_one(
    td: Tokendesk, connection: Connection, clock: ManualClock
) -> None:
    token = store_token(td, connection, refresh_expires_at=clock() + timedelta(days=10))
    with td.transaction() as tx:
        TokenRepository(tx).update(token.id, {"failure_count": 1})
        td.events.token_failed(tx, connection, token, failures=1, refused_for_good=False,
                               reason="the provider did not answer", next_attempt_at=None)
    assert td.deliverer.forecasts is not None
    td.deliverer.forecasts.run_once()
    with td.transaction() as tx:  # recovered a moment later: damped after the failure only
        failing = TokenRepository(tx).get(token.id)
        assert failing is not None
        TokenRepository(tx).update(token.id, {"failure_count": 0})
        td.events.token_recovered(tx, connection, failing)

    states = [(e["kind"], e["state"]) for e in outbox(td)]
    assert states == [("token.refresh_failed", EventState.READY.value),
                      ("token.expiring", EventState.READY.value),
                      ("token.recovered", EventState.HELD.value)]


def test_the_job_runs_once_per_interval_in_each_process(
    td: Tokendesk, connection: Connection, clock: ManualClock
) -> None:
    notifier = ForecastNotifier(td.transaction, td.attention, td.events, clock, interval_s=300)
    notifier.run_if_due()  # nothing due yet: the first round still counts
    store_token(td, connection, refresh_expires_at=clock() + timedelta(days=10))

    clock.advance(299)
    assert notifier.run_if_due() == 0
    clock.advance(1)
    assert notifier.run_if_due() == 1


def test_a_connection_deleted_takes_its_forecast_notices_with_it(
    td: Tokendesk, connection: Connection, clock: ManualClock
) -> None:
    store_token(td, connection, refresh_expires_at=clock() + timedelta(days=10))
    enter_secret_expiry(td, connection, clock().date() + timedelta(days=5))
    assert td.deliverer.forecasts is not None
    assert td.deliverer.forecasts.run_once() == 2

    with td.transaction() as tx:
        td.connections.delete(tx, command_line_principal(), connection.name)

    with td.transaction(read_only=True) as tx:
        assert tx.execute(select(forecast_notices)).all() == []


@pytest.mark.parametrize("kind", [EventKind.TOKEN_EXPIRING, EventKind.TOKEN_RECOVERED])
def test_the_hook_refuses_what_is_not_a_forecast_of_its_subject(
    td: Tokendesk, connection: Connection, clock: ManualClock, kind: EventKind
) -> None:
    with td.transaction() as tx, pytest.raises(ValueError):
        td.events.expiring(tx, kind, connection, due_at=clock(), source="the provider said")
