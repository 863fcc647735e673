"""Audit rows written in batches read back exactly like rows written one by one, and the
handout audit buffer loses nothing on a clean shutdown or a failed write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, String, cast, select

from tokendesk.domain.audit import AuditFilter
from tokendesk.services.audit_buffer import AuditBuffer
from tokendesk.storage.audit import AuditRepository
from tokendesk.storage.tables import audit_events

MOMENT = datetime(2026, 11, 28, 17, 30, 12, 345678, tzinfo=UTC)


def row(number: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "at": MOMENT + timedelta(seconds=number),
        "actor": f"bot-{number}",
        "actor_id": f"u{number}",
        "via": "api_key",
        "action": "token.handout",
        "target_type": "token",
        "target": "Reports API",
        "connection_id": "c1",
        "outcome": "success",
        "details": {"kind": "shared", "n": number, "text": "ünïcode \"quoted\""},
    }
    return values | changes


def stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as tx:
        rows = tx.execute(select(audit_events).order_by(audit_events.c.id)).mappings()
        return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def test_a_batch_reads_back_exactly_like_rows_appended_one_by_one(engine: Engine) -> None:
    batch = [row(1), row(2, connection_id=None, actor_id=None), row(3, details={}),
             row(4, details={"n": 1}), row(5, details={"n": True}), row(6, details={"n": 1.0}),
             row(7, details={"nested": {"n": [1]}})]
    with engine.begin() as tx:
        for values in batch:
            AuditRepository(tx).append(values)
    one_by_one = stored(engine)
    with engine.begin() as tx:
        AuditRepository(tx).append_many(batch)

    batched = stored(engine)[len(batch):]
    assert batched == one_by_one
    # 1 == True == 1.0 in Python: the types tell whether each was written as given
    assert [type(values["details"]["n"]) for values in batched[3:6]] == [int, bool, float]
    assert batched[0]["at"] == MOMENT + timedelta(seconds=1)  # aware UTC, microseconds kept
    with engine.connect() as tx:
        found = AuditRepository(tx).search(AuditFilter(actor="bot-2", since=MOMENT))
    assert [event.actor for event in found] == ["bot-2", "bot-2"]


def test_a_batch_stores_each_moment_exactly_as_a_single_append_does(engine: Engine) -> None:
    """The batch converts moments itself (cheaper than SQLAlchemy's two processors): on
    SQLite the stored text must be the very same, as range queries compare it as text."""
    berlin = timezone(timedelta(hours=1))
    moments = [MOMENT, MOMENT.replace(microsecond=0), datetime(2026, 3, 1, 0, 30, tzinfo=berlin),
               datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)]
    batch = [row(n, at=moment) for n, moment in enumerate(moments)]
    with engine.begin() as tx:
        for values in batch:
            AuditRepository(tx).append(values)
        AuditRepository(tx).append_many(batch)
    with engine.connect() as tx:
        stored_as = [value for (value,) in tx.execute(
            select(cast(audit_events.c.at, String)).order_by(audit_events.c.id))]
    assert stored_as[len(batch):] == stored_as[:len(batch)]
    assert [values["at"] for values in stored(engine)[len(batch):]] == moments


def test_an_empty_batch_writes_nothing(engine: Engine) -> None:
    with engine.begin() as tx:
        AuditRepository(tx).append_many([])
    assert stored(engine) == []


def transactions(engine: Engine, fail: list[bool]) -> Any:
    @contextmanager
    def transaction(*, read_only: bool = False) -> Iterator[Connection]:
        with engine.begin() as tx:
            if fail and fail.pop():
                raise ConnectionError("the database went away")
            yield tx

    return transaction


def test_the_buffer_writes_everything_queued_when_closed(engine: Engine) -> None:
    buffer = AuditBuffer(transactions(engine, []))
    for number in range(1234):
        buffer.add(row(number))
    buffer.close()

    assert [values["actor"] for values in stored(engine)] == [f"bot-{n}" for n in range(1234)]


def test_a_failed_write_keeps_the_rows_for_the_next_one(engine: Engine) -> None:
    fail = [True]
    buffer = AuditBuffer(transactions(engine, fail))
    buffer._stop.set()  # the writer thread ends at once: this test flushes by hand
    for number in range(3):
        buffer.add(row(number))

    with pytest.raises(ConnectionError):
        buffer.flush()
    assert stored(engine) == []
    assert buffer.flush() == 3

    assert [values["actor"] for values in stored(engine)] == ["bot-0", "bot-1", "bot-2"]
