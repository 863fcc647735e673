"""Revocations waiting for the provider (RFC 7009 calls that failed or are not made yet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, delete, insert, select, update

from tokendesk.storage.tables import pending_revocations


class RevocationRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(pending_revocations).values(**values))

    def due(self, now: datetime, limit: int, ids: Sequence[str] | None = None) -> list[Row[Any]]:
        query = select(pending_revocations).where(pending_revocations.c.next_attempt_at <= now)
        if ids is not None:
            query = query.where(pending_revocations.c.id.in_(list(ids)))
        return list(
            self.tx.execute(query.order_by(pending_revocations.c.next_attempt_at).limit(limit))
        )

    def claim(self, revocation_id: str, attempts: int, until: datetime) -> bool:
        """Take one revocation for an attempt (others skip it until ``until``)."""
        result = self.tx.execute(
            update(pending_revocations)
            .where(
                pending_revocations.c.id == revocation_id,
                pending_revocations.c.attempts == attempts,
            )
            .values(attempts=attempts + 1, next_attempt_at=until)
        )
        return result.rowcount == 1

    def failed(self, revocation_id: str, next_attempt_at: datetime, error: str) -> None:
        self.tx.execute(
            update(pending_revocations)
            .where(pending_revocations.c.id == revocation_id)
            .values(next_attempt_at=next_attempt_at, last_error=error[:500])
        )

    def delete(self, revocation_id: str) -> None:
        self.tx.execute(
            delete(pending_revocations).where(pending_revocations.c.id == revocation_id)
        )

    def count(self) -> int:
        return len(self.tx.execute(select(pending_revocations.c.id)).all())
