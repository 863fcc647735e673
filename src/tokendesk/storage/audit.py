"""The append-only audit log."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Dialect, insert, select

from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.storage.tables import audit_events


class AuditRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def append(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(audit_events).values(**values))

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (column values, as :meth:`append` takes) in one driver call.

        The batched handout audit writes thousands of rows a second: the statement is
        compiled once per dialect and each row goes through the columns' bind processors
        only, not SQLAlchemy's per-execution machinery.
        """
        if not rows:
            return
        statement, columns = _bulk_insert(self.tx.dialect)
        self.tx.exec_driver_sql(
            statement,
            [tuple(convert(row.get(name)) for name, convert in columns) for row in rows],
        )

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


_Convert = Callable[[Any], Any]


@cache
def _bulk_insert(dialect: Dialect) -> tuple[str, tuple[tuple[str, _Convert], ...]]:
    """The positional INSERT of every audit column but the id, and each column's converter."""
    names = [column.name for column in audit_events.columns if column.name != "id"]
    compiled = insert(audit_events).inline().compile(dialect=dialect, column_keys=names)
    statement = compiled.string
    if not compiled.positional:  # named placeholders (psycopg): rewrite them positional
        for name in names:
            statement = statement.replace(f"%({name})s", "%s")
        order = names
    else:
        order = list(compiled.positiontup or ())
    converters = []
    for name in order:
        column_type = audit_events.c[name].type  # a TypeDecorator's processor includes its step
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        converters.append((name, processor or _same))
    return statement, tuple(converters)


def _same(value: Any) -> Any:
    return value
