"""The append-only audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import insert, select

from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.storage.tables import audit_events


class AuditRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def append(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(audit_events).values(**values))

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        self.tx.execute(insert(audit_events), rows)

    def search(self, where: AuditFilter) -> list[AuditEvent]:
        c = audit_events.c
        query = select(audit_events).order_by(c.id.desc()).limit(where.limit)
        if where.actor:
            query = query.where(c.actor == where.actor)
        if where.action:
            query = query.where(c.action == where.action)
        if where.connection_id:
            query = query.where(c.connection_id == where.connection_id)
        if where.since:
            query = query.where(c.at >= where.since)
        if where.until:
            query = query.where(c.at < where.until)
        if where.before_id:
            query = query.where(c.id < where.before_id)
        return [
            AuditEvent(
                id=row.id,
                at=row.at,
                actor=row.actor,
                via=row.via,
                action=row.action,
                target_type=row.target_type,
                target=row.target,
                outcome=row.outcome,
                details=dict(row.details),
            )
            for row in self.tx.execute(query)
        ]
