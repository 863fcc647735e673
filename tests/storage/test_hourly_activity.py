"""A connection's audit events counted per hour in SQL, the same on SQLite and PostgreSQL;
and the timeline the audit service builds from them, up to the (mocked) clock's hour."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import event as sqlalchemy_event

from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal, Via, command_line_principal
from tokendesk.domain.timeline import HourOfActivity
from tokendesk.errors import PermissionDenied, ValidationError
from tokendesk.services.audit import AuditService
from tokendesk.storage.audit import AuditRepository
from tokendesk.storage.db import create_db_engine

NOW = datetime(2026, 12, 5, 14, 37, 5, tzinfo=UTC)
THIS_HOUR = datetime(2026, 12, 5, 14, tzinfo=UTC)


def event(at: datetime, action: str, outcome: str = "success",
          connection_id: str | None = "c1") -> dict[str, Any]:
    return {"at": at, "actor": "bot", "actor_id": "u1", "via": "api_key", "action": action,
            "target_type": "token", "target": "Reports API", "connection_id": connection_id,
            "outcome": outcome, "details": {}}


def record(engine: Engine, *events: dict[str, Any]) -> None:
    with engine.begin() as tx:
        AuditRepository(tx).append_many(list(events))


def test_events_are_counted_per_hour_by_kind(engine: Engine) -> None:
    two_hours_ago = THIS_HOUR - timedelta(hours=2)
    record(
        engine,
        event(THIS_HOUR + timedelta(minutes=1), "token.handout"),
        event(THIS_HOUR + timedelta(minutes=59, seconds=59), "token.handout"),
        event(THIS_HOUR + timedelta(minutes=5), "token.refresh"),
        event(two_hours_ago, "token.handout"),  # the first instant of its hour
        event(two_hours_ago + timedelta(minutes=30), "token.refresh", "failure"),
        event(two_hours_ago + timedelta(minutes=31), "consent.complete", "failure"),
        event(two_hours_ago + timedelta(minutes=40), "consent.complete"),
        event(two_hours_ago + timedelta(minutes=41), "connection.update"),  # not counted
        event(two_hours_ago + timedelta(minutes=42), "token.handout", "denied"),
    )

    with engine.connect() as tx:
        hours = AuditRepository(tx).hourly_activity("c1", THIS_HOUR - timedelta(days=1),
                                                    THIS_HOUR + timedelta(hours=1))

    assert hours == [
        HourOfActivity(two_hours_ago, handouts=1, refreshes=0, failures=2, consents=1),
        HourOfActivity(THIS_HOUR, handouts=2, refreshes=1, failures=0, consents=0),
    ]


def test_only_the_connections_events_within_the_window_count(engine: Engine) -> None:
    since = THIS_HOUR - timedelta(hours=3)
    until = THIS_HOUR + timedelta(hours=1)
    record(
        engine,
        event(since - timedelta(microseconds=1), "token.handout"),  # just before
        event(since, "token.handout"),
        event(until, "token.handout"),  # the end is exclusive
        event(since + timedelta(minutes=3), "token.handout", connection_id="c2"),
        event(since + timedelta(minutes=4), "token.handout", connection_id=None),
    )

    with engine.connect() as tx:
        hours = AuditRepository(tx).hourly_activity("c1", since, until)

    assert hours == [HourOfActivity(since, handouts=1)]


def test_a_connection_without_events_has_no_busy_hour(engine: Engine) -> None:
    with engine.connect() as tx:
        assert AuditRepository(tx).hourly_activity("c1", THIS_HOUR, THIS_HOUR) == []


def test_the_timeline_has_every_hour_of_the_last_days_up_to_the_clocks_hour(
    engine: Engine,
) -> None:
    eight_days_ago = THIS_HOUR - timedelta(days=8)
    first_hour = THIS_HOUR - timedelta(days=7) + timedelta(hours=1)
    record(
        engine,
        event(eight_days_ago, "token.handout"),  # before the 7 days
        event(first_hour + timedelta(minutes=10), "token.handout"),
        event(first_hour + timedelta(minutes=11), "token.handout"),
        event(THIS_HOUR + timedelta(minutes=2), "token.refresh", "failure"),
    )
    audit = AuditService(clock=lambda: NOW)

    with engine.connect() as tx:
        timeline = audit.timeline(tx, command_line_principal(), a_connection("c1"))

    assert len(timeline.hours) == 7 * 24
    assert timeline.start == first_hour
    assert timeline.end == THIS_HOUR + timedelta(hours=1)
    assert timeline.hours[0] == HourOfActivity(first_hour, handouts=2)
    assert timeline.hours[-1] == HourOfActivity(THIS_HOUR, failures=1)
    assert all(h.quiet for h in timeline.hours[1:-1])
    assert timeline.summary() == (
        "In the last 7 days: 2 tokens handed out (at most 2 in one hour), 0 refreshes, "
        "1 failure (the last in the hour from 2026-12-05 14:00 UTC), 0 consents.")


def test_the_timeline_asks_for_view_connections_and_a_sensible_number_of_days(
    engine: Engine,
) -> None:
    audit = AuditService(clock=lambda: NOW)
    nobody = Principal("u9", "nobody", Via.SESSION, frozenset(), frozenset())
    with engine.connect() as tx:
        with pytest.raises(PermissionDenied):
            audit.timeline(tx, nobody, a_connection("c1"))
        with pytest.raises(ValidationError, match="from 1 to 31 days"):
            audit.timeline(tx, command_line_principal(), a_connection("c1"), days=0)


def a_connection(connection_id: str) -> Connection:
    """A connection record naming ``connection_id`` (the timeline reads only its id)."""
    fields = {name: None for name in Connection.__dataclass_fields__}
    fields.update(id=connection_id, name="Reports API", invited_roles=())
    return Connection(**fields)  # type: ignore[arg-type]


def test_the_count_reads_the_connections_rows_of_those_hours_by_index(
    sqlite_template: Path, tmp_path: Path,
) -> None:
    # SQLite only: its plan does not depend on the table's size, PostgreSQL's does.
    shutil.copyfile(sqlite_template, tmp_path / "audit.sqlite3")
    engine = create_db_engine(f"sqlite:///{(tmp_path / 'audit.sqlite3').as_posix()}")
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sqlalchemy_event.listen(engine, "before_cursor_execute", remember)
    try:
        with engine.connect() as tx:
            AuditRepository(tx).hourly_activity("c1", THIS_HOUR, THIS_HOUR)
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", remember)
    (statement, parameters), = [(s, p) for s, p in statements if "audit_events" in s]
    with engine.connect() as tx:
        plan = " ".join(str(row[-1]) for row in tx.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters))

    engine.dispose()
    assert "ix_audit_events_connection_at (connection_id=? AND at>? AND at<?)" in plan
