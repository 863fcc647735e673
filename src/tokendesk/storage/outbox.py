"""The event outbox: events written with the change that caused them, handed out once.

A consumer (webhooks, and e-mail) receives each event once, in the
transaction that moves it from READY to DISPATCHED: a conditional UPDATE, so of two
replicas dispatching at once exactly one wins each event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tokendesk.domain.events import EventState
from tokendesk.storage.tables import forecast_notices, outbox_events

_OPEN = (EventState.HELD.value, EventState.READY.value)
_SENT = (EventState.READY.value, EventState.DISPATCHED.value)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event as stored."""

    seq: int
    id: str
    kind: str
    subject: str
    ordering_key: str
    payload: dict[str, Any]
    state: EventState
    created_at: datetime
    available_at: datetime

    @classmethod
    def of(cls, row: Row[Any]) -> OutboxEvent:
        values = dict(row._mapping)
        values["state"] = EventState(values["state"])
        return cls(**values)


class OutboxRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def add(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(outbox_events).values(**values))

    def last_sent(self, subject: str) -> OutboxEvent | None:
        """The latest event of ``subject`` that was not held back (READY or DISPATCHED)."""
        return self._first(
            select(outbox_events)
            .where(outbox_events.c.subject == subject, outbox_events.c.state.in_(_SENT))
            .order_by(outbox_events.c.seq.desc())
            .limit(1)
        )

    def by_id(self, event_id: str) -> OutboxEvent | None:
        return self._first(select(outbox_events).where(outbox_events.c.id == event_id))

    def held(self, subject: str) -> OutboxEvent | None:
        """The event of ``subject`` held by the damping, if any."""
        return self._first(
            select(outbox_events).where(
                outbox_events.c.subject == subject,
                outbox_events.c.state == EventState.HELD.value,
            )
        )

    def last_dispatched_kind(self, subject: str, before_seq: int) -> str | None:
        found = self.tx.execute(
            select(outbox_events.c.kind)
            .where(
                outbox_events.c.subject == subject,
                outbox_events.c.state == EventState.DISPATCHED.value,
                outbox_events.c.seq < before_seq,
            )
            .order_by(outbox_events.c.seq.desc())
            .limit(1)
        ).scalar()
        return None if found is None else str(found)

    def open_events(self, limit: int) -> list[OutboxEvent]:
        """Held and ready events, oldest first."""
        found = self.tx.execute(
            select(outbox_events)
            .where(outbox_events.c.state.in_(_OPEN))
            .order_by(outbox_events.c.seq)
            .limit(limit)
        )
        return [OutboxEvent.of(row) for row in found]

    def move(self, seq: int, old: EventState, new: EventState) -> bool:
        """Move one event from ``old`` to ``new``; False when it was not in ``old`` (another
        replica moved it first)."""
        result = self.tx.execute(
            update(outbox_events)
            .where(outbox_events.c.seq == seq, outbox_events.c.state == old.value)
            .values(state=new.value)
        )
        return result.rowcount == 1

    def _first(self, query: Any) -> OutboxEvent | None:
        row = self.tx.execute(query).first()
        return None if row is None else OutboxEvent.of(row)


class ForecastNoticeRepository:
    """The forecast dates already told (``forecast_notices``)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def note(self, values: dict[str, Any]) -> bool:
        """Record that the forecast (``subject``, ``due_at``) is told; False when it was
        already, by this process or another replica (the row's primary key decides: of two
        concurrent transactions the second waits for the first and then inserts nothing)."""
        dialect = postgresql if self.tx.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(forecast_notices)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=[forecast_notices.c.subject, forecast_notices.c.due_at]
            )
            .returning(forecast_notices.c.event_id)  # rowcount is -1 here on psycopg
        )
        return self.tx.execute(statement).first() is not None

    def told(self) -> set[tuple[str, datetime]]:
        """Every (subject, due date) told so far."""
        rows = self.tx.execute(select(forecast_notices.c.subject, forecast_notices.c.due_at))
        return {(str(subject), due_at) for subject, due_at in rows}
