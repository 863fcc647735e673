"""Events are written to the outbox in the transaction of the change that caused them: a
failed refresh, a refused grant, a refused client, and their recoveries. Never a token or a
secret in a payload.

Real database (SQLite and PostgreSQL, real migrations); the provider is a fake token
endpoint at the transport level; the clock is the test's.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oauth.oauth_fakes import oauth_error, token_json
from support.api import CLIENT_SECRET
from tokendesk.domain.connections import Connection, ConnectionStatus
from tokendesk.domain.events import EventKind
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import TokendeskError
from tokendesk.services.inputs import ConnectionUpdate
from tokendesk.storage.tables import outbox_events
from tokendesk.wiring import Tokendesk
from tokens.lifecycle_support import CONNECTION, FakeProvider, ManualClock, store_token

# A forced refresh within this long of the token set's issue is not sent (docs/security.md).
FORCED_REFRESH_INTERVAL_S = 10.0
DAMPING_WINDOW_S = 60.0


def outbox(td: Tokendesk) -> list[dict[str, Any]]:
    with td.transaction(read_only=True) as tx:
        rows = tx.execute(select(outbox_events).order_by(outbox_events.c.seq)).all()
    return [dict(row._mapping) for row in rows]


def kinds(td: Tokendesk) -> list[str]:
    return [row["kind"] for row in outbox(td)]


def refresh_now(td: Tokendesk) -> None:
    td.tokens.refresh_now(command_line_principal(), CONNECTION, TokenKind.SHARED)


def failing_refresh(td: Tokendesk) -> None:
    with pytest.raises(TokendeskError):
        refresh_now(td)


def test_a_failed_refresh_writes_refresh_failed_naming_the_token_and_the_cause(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    token = store_token(td, connection)
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    provider.token.answer(oauth_error(503, "temporarily_unavailable", "try later"))

    failing_refresh(td)

    [event] = outbox(td)
    assert event["kind"] == "token.refresh_failed"
    assert event["state"] == "ready"
    data = event["payload"]["data"]
    assert data["token"] == {"id": token.id, "kind": "shared", "user_id": None}
    assert data["connection"]["name"] == CONNECTION
    assert data["failures"] == 1 and data["next_attempt_at"] is not None
    assert event["payload"]["type"] == "token.refresh_failed"


def test_failures_in_a_row_say_refresh_failed_once_then_backing_off_once(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection)
    provider.token.answer(oauth_error(503, "temporarily_unavailable"))
    for _ in range(5):
        clock.advance(DAMPING_WINDOW_S * 60)  # past the back-off and the damping window
        failing_refresh(td)

    assert kinds(td) == ["token.refresh_failed", "token.backing_off"]


def test_a_refused_grant_needs_reauthentication_and_a_new_consent_recovers_it(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection)
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    provider.token.answer(oauth_error(400, "invalid_grant", "refresh token revoked"))
    failing_refresh(td)
    clock.advance(DAMPING_WINDOW_S + 1)

    store_token(td, connection, access_token="at-new", refresh_token="rt-new")

    assert kinds(td) == ["token.reauthentication_required", "token.recovered"]
    assert [e["state"] for e in outbox(td)] == ["ready", "ready"]


def test_a_refused_client_makes_the_connection_misconfigured_until_a_refresh_works(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection)
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    provider.token.answer(oauth_error(401, "invalid_client", "bad secret"))
    failing_refresh(td)
    clock.advance(DAMPING_WINDOW_S * 60)
    provider.token.answer(token_json(access_token="at-2", refresh_token="rt-2"))

    refresh_now(td)  # an administrator asks: heard, although misconfigured

    assert kinds(td) == [
        "token.refresh_failed", "connection.misconfigured",
        "connection.recovered", "token.recovered",
    ]


def test_new_client_credentials_recover_a_misconfigured_connection(
    td: Tokendesk, connection: Connection
) -> None:
    with td.transaction() as tx:
        td.connections.mark_status(tx, connection, ConnectionStatus.MISCONFIGURED, "refused")
    with td.transaction() as tx:
        td.connections.update(tx, command_line_principal(), CONNECTION,
                              ConnectionUpdate(client_secret="a-new-secret-of-the-app"))

    assert kinds(td) == ["connection.misconfigured", "connection.recovered"]
    assert outbox(td)[1]["payload"]["data"]["cause"] == "credentials_changed"


def test_an_event_is_not_written_when_the_change_that_caused_it_is_rolled_back(
    td: Tokendesk, connection: Connection
) -> None:
    with pytest.raises(RuntimeError), td.transaction() as tx:
        td.connections.mark_status(tx, connection, ConnectionStatus.MISCONFIGURED, "refused")
        raise RuntimeError("the change fails after the event was written")

    assert outbox(td) == []
    with td.transaction(read_only=True) as tx:
        assert td.connections.get_by_id(tx, connection.id).status is ConnectionStatus.OK


def test_no_payload_carries_a_token_or_a_secret(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection, access_token="at-secret-1", refresh_token="rt-secret-1")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    provider.token.answer(oauth_error(401, "invalid_client"))
    failing_refresh(td)
    clock.advance(DAMPING_WINDOW_S * 60)
    provider.token.answer(token_json(access_token="at-secret-2", refresh_token="rt-secret-2"))
    refresh_now(td)

    written = json.dumps([e["payload"] for e in outbox(td)])
    assert len(outbox(td)) == 4
    for secret in ("at-secret-1", "rt-secret-1", "at-secret-2", "rt-secret-2", CLIENT_SECRET):
        assert secret not in written


def test_two_refusals_read_before_either_was_stored_tell_the_connection_once(
    td: Tokendesk, connection: Connection
) -> None:
    for _ in range(2):  # both callers read the connection as ok before the provider refused
        with td.transaction() as tx:
            td.connections.mark_status(tx, connection, ConnectionStatus.MISCONFIGURED, "refused")

    assert kinds(td) == ["connection.misconfigured"]


def test_a_forecast_is_told_once_per_date(td: Tokendesk, connection: Connection,
                                          clock: ManualClock) -> None:
    token = store_token(td, connection)
    due = clock() + timedelta(days=10)

    for moment in (due, due, due + timedelta(days=1)):
        with td.transaction() as tx:
            td.events.expiring(tx, EventKind.TOKEN_EXPIRING, connection, due_at=moment,
                               source="Atlassian documents 90 days unused", token=token)
        clock.advance(DAMPING_WINDOW_S * 60)

    assert kinds(td) == ["token.expiring", "token.expiring"]
    assert outbox(td)[0]["payload"]["data"]["source"] == "Atlassian documents 90 days unused"
