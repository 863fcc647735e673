"""Counts of failed console sign-ins, shared by every replica (see tokendesk.domain.sign_in)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection as Tx
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from tokendesk.domain.sign_in import Failures
from tokendesk.storage.tables import sign_in_failures as table


class SignInFailureRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self, keys: Iterable[str]) -> dict[str, Failures]:
        rows = self.tx.execute(select(table).where(table.c.key.in_(list(keys))))
        return {row.key: Failures(row.failures, row.first_at, row.last_at) for row in rows}

    def add_failure(self, key: str, now: datetime, window_start: datetime) -> None:
        """Count one failure under ``key``; a count whose window began before
        ``window_start`` starts again at one. One statement: concurrent failures in several
        replicas all count."""
        dialect = postgresql if self.tx.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table).values(key=key, failures=1, first_at=now, last_at=now)
        expired = table.c.first_at < window_start
        self.tx.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"failures": case((expired, 1), else_=table.c.failures + 1),
                  "first_at": case((expired, stmt.excluded.first_at), else_=table.c.first_at),
                  "last_at": stmt.excluded.last_at}))

    def forget(self, keys: Iterable[str]) -> None:
        self.tx.execute(delete(table).where(table.c.key.in_(list(keys))))

    def prune(self, window_start: datetime) -> int:
        """Drop counts whose window began before ``window_start``; returns how many."""
        return self.tx.execute(delete(table).where(table.c.first_at < window_start)).rowcount
