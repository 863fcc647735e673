"""The append-only audit log."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    Dialect,
    and_,
    case,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy import Connection as Tx

from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.domain.timeline import (
    CONSENT_ACTION,
    FAILURE,
    HANDOUT_ACTION,
    REFRESH_ACTION,
    SUCCESS,
    HourOfActivity,
)
from tokendesk.storage.schema_base import UTCDateTime
from tokendesk.storage.tables import audit_events


class AuditRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def append(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(audit_events).values(**values))

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (column values, as :meth:`append` takes) in one driver call.

        The batched handout audit writes thousands of rows a second: the statement is
        compiled once per dialect, and of each row only the values whose column has a bind
        processor (the moment, the JSON details) are converted -- not SQLAlchemy's
        per-execution machinery. Every row carries every column (as AuditService.row gives).
        """
        if not rows:
            return
        bulk = _bulk_insert(self.tx.dialect)
        parameters = []
        for row in rows:
            values = list(bulk.values_of(row))
            for index, convert in bulk.conversions:
                values[index] = convert(values[index])
            parameters.append(tuple(values))
        if bulk.copy is None:
            self.tx.exec_driver_sql(bulk.insert, parameters)
            return
        # PostgreSQL: COPY streams the rows, without a pipeline's bookkeeping per row.
        cursor: Any = self.tx.connection.cursor()
        try:
            with cursor.copy(bulk.copy) as copy:
                for row_values in parameters:
                    copy.write_row(row_values)
        finally:
            cursor.close()

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

    def hourly_activity(
        self, connection_id: str, since: datetime, until: datetime
    ) -> list[HourOfActivity]:
        """The events of connection ``connection_id`` from ``since`` to ``until`` (exclusive),
        counted per hour in SQL: successful handouts, successful refreshes, failures of any
        action (a refused refresh, a failed consent or test, a handout an invited caller did
        not get), completed consents. Only hours with events, oldest first."""
        c = audit_events.c
        hour = _hour_of(self.tx.dialect).label("hour")

        def counted(condition: ColumnElement[bool], name: str) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)

        success = c.outcome == SUCCESS
        query = (
            select(
                hour,
                counted(and_(c.action == HANDOUT_ACTION, success), "handouts"),
                counted(and_(c.action == REFRESH_ACTION, success), "refreshes"),
                counted(c.outcome == FAILURE, "failures"),
                counted(and_(c.action == CONSENT_ACTION, success), "consents"),
            )
            .where(c.connection_id == connection_id, c.at >= since, c.at < until)
            .group_by(hour)
            .order_by(hour)
        )
        return [
            HourOfActivity(
                hour=datetime.strptime(row.hour, _HOUR_FORMAT).replace(tzinfo=UTC),
                handouts=int(row.handouts),
                refreshes=int(row.refreshes),
                failures=int(row.failures),
                consents=int(row.consents),
            )
            for row in self.tx.execute(query)
        ]


# Both backends write the hour as this text, so that one parser reads either.
_HOUR_FORMAT = "%Y-%m-%d %H:00"


def _hour_of(dialect: Dialect) -> ColumnElement[str]:
    """The hour of ``audit_events.at`` (stored as UTC without a zone) as ``_HOUR_FORMAT``
    text: ``date_trunc`` on PostgreSQL, ``strftime`` on SQLite."""
    # Literals, not bound parameters: PostgreSQL sees a SELECT's and a GROUP BY's parameters
    # as different expressions and would refuse the grouping.
    at = audit_events.c.at
    if dialect.name == "postgresql":
        truncated = func.date_trunc(literal_column("'hour'"), at)
        return func.to_char(truncated, literal_column("'YYYY-MM-DD HH24:00'"))
    return func.strftime(literal_column("'%Y-%m-%d %H:00'"), at)


_Convert = Callable[[Any], Any]
_MEMO_MAX = 1024


class _BulkInsert(NamedTuple):
    insert: str  # positional INSERT of every column but the id
    copy: str | None  # PostgreSQL's COPY of the same columns, where there is one
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values, in that order
    conversions: tuple[tuple[int, _Convert], ...]  # converters of the columns needing one


@cache
def _bulk_insert(dialect: Dialect) -> _BulkInsert:
    names = [column.name for column in audit_events.columns if column.name != "id"]
    compiled = insert(audit_events).inline().compile(dialect=dialect, column_keys=names)
    statement = compiled.string
    if not compiled.positional:  # named placeholders (psycopg): rewrite them positional
        for name in names:
            statement = statement.replace(f"%({name})s", "%s")
        order = names
    else:
        order = list(compiled.positiontup or ())
    copy = (f"COPY {audit_events.name} ({', '.join(order)}) FROM STDIN"
            if dialect.name == "postgresql" else None)
    conversions = []
    for index, name in enumerate(order):
        column_type = audit_events.c[name].type  # a TypeDecorator's processor includes its step
        if isinstance(column_type, UTCDateTime):
            conversions.append((index, _moment_converter(dialect)))
            continue
        if isinstance(column_type, JSON) and copy is not None:
            # COPY's text format takes the JSON text itself; psycopg's JSON wrapper would be
            # dumped again for every row.
            conversions.append((index, _remembered(json.dumps)))
            continue
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            is_json = isinstance(column_type, JSON)
            conversions.append((index, _remembered(processor) if is_json else processor))
    return _BulkInsert(statement, copy, itemgetter(*order), tuple(conversions))


def _moment_converter(dialect: Dialect) -> _Convert:
    """What :class:`UTCDateTime` and the dialect make of an aware datetime, in one step.

    SQLite keeps it as text (compared as text by every range query, so the form must be
    exactly SQLAlchemy's: ``YYYY-MM-DD HH:MM:SS.ffffff``); others take the naive UTC moment.
    Both are several times cheaper than the two processors, which matters for thousands of
    handout rows a second.
    """
    naive = UTCDateTime().process_bind_param
    if dialect.name != "sqlite":
        return lambda value: naive(value, dialect)

    def as_text(value: Any) -> Any:
        moment = naive(value, dialect)
        return None if moment is None else moment.isoformat(" ", "microseconds")

    return as_text


def _remembered(convert: _Convert) -> _Convert:
    """``convert`` of flat JSON objects remembered: handout rows repeat a few ``details``."""
    memo: dict[tuple[tuple[tuple[str, Any], ...], tuple[type, ...]], Any] = {}

    def remembered(value: Any) -> Any:
        try:
            # the types too: 1 == True == 1.0, but their JSON differs
            key = (tuple(value.items()), tuple(map(type, value.values())))
            known = memo.get(key)
        except (AttributeError, TypeError):  # not a flat object of hashable values
            return convert(value)
        if known is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            known = memo[key] = convert(value)
        return known

    return remembered
