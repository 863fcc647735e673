"""Webhooks, their deliveries (one per event and webhook) and each attempt.

A delivery is sent under a lease, a conditional UPDATE taken in a short transaction of its
own, so two replicas never send the same delivery at once; and only the oldest undelivered
delivery of a (webhook, connection) may be sent, so a receiver sees a connection's events in
the order they happened, however many replicas send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from tokendesk.storage.tables import outbox_events, webhook_attempts, webhook_deliveries, webhooks

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: str
    url: str
    events: tuple[str, ...]
    description: str
    secret_ct: str = field(repr=False)
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Row[Any]) -> WebhookRecord:
        values = dict(row._mapping)
        values["events"] = tuple(values["events"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: str
    webhook_id: str
    event_id: str
    event_seq: int
    kind: str
    ordering_key: str
    state: str
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> DeliveryRecord:
        return cls(**dict(row._mapping))


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    delivery_id: str
    at: datetime
    status_code: int | None
    duration_ms: int
    outcome: str
    error: str | None

    @classmethod
    def of(cls, row: Row[Any]) -> AttemptRecord:
        return cls(**dict(row._mapping))


class WebhookRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def add(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(webhooks).values(**values))

    def get(self, webhook_id: str) -> WebhookRecord | None:
        row = self.tx.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return None if row is None else WebhookRecord.of(row)

    def all(self) -> list[WebhookRecord]:
        found = self.tx.execute(select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id))
        return [WebhookRecord.of(row) for row in found]

    def update(self, webhook_id: str, values: dict[str, Any]) -> None:
        self.tx.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))

    def delete(self, webhook_id: str) -> None:
        self.tx.execute(delete(webhooks).where(webhooks.c.id == webhook_id))


class DeliveryRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def add(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(webhook_deliveries).values(**values))

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        row = self.tx.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        ).first()
        return None if row is None else DeliveryRecord.of(row)

    def for_webhook(self, webhook_id: str, limit: int) -> list[DeliveryRecord]:
        """The newest deliveries of a webhook first."""
        found = self.tx.execute(
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.event_seq.desc())
            .limit(limit)
        )
        return [DeliveryRecord.of(row) for row in found]

    def attempts(self, delivery_ids: list[str]) -> dict[str, list[AttemptRecord]]:
        """The attempts of each delivery, oldest first."""
        found: dict[str, list[AttemptRecord]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return found
        rows = self.tx.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
            .order_by(webhook_attempts.c.id)
        )
        for row in rows:
            found[row.delivery_id].append(AttemptRecord.of(row))
        return found

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        """Pending deliveries due now, not under a live lease, each the oldest undelivered
        one of its (webhook, connection): what may be sent now, oldest first."""
        earlier = aliased(webhook_deliveries)
        found = self.tx.execute(
            select(webhook_deliveries)
            .where(
                webhook_deliveries.c.state == PENDING,
                webhook_deliveries.c.next_attempt_at <= now,
                or_(
                    webhook_deliveries.c.lease_until.is_(None),
                    webhook_deliveries.c.lease_until < now,
                ),
                ~exists().where(
                    and_(
                        earlier.c.webhook_id == webhook_deliveries.c.webhook_id,
                        earlier.c.ordering_key == webhook_deliveries.c.ordering_key,
                        earlier.c.state == PENDING,
                        earlier.c.event_seq < webhook_deliveries.c.event_seq,
                    )
                ),
            )
            .order_by(webhook_deliveries.c.event_seq)
            .limit(limit)
        )
        return [DeliveryRecord.of(row) for row in found]

    def take_lease(self, delivery_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take the lease of a pending delivery due now unless another holder's runs."""
        result = self.tx.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.state == PENDING,
                or_(
                    webhook_deliveries.c.lease_until.is_(None),
                    webhook_deliveries.c.lease_until < now,
                ),
            )
            .values(lease_owner=owner, lease_until=until)
        )
        return result.rowcount == 1

    def finish(self, delivery_id: str, owner: str, values: dict[str, Any]) -> bool:
        """Write the attempt's outcome and release the lease, if ``owner`` still holds it."""
        result = self.tx.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.lease_owner == owner,
            )
            .values(**values, lease_owner=None, lease_until=None)
        )
        return result.rowcount == 1

    def record_attempt(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(webhook_attempts).values(**values))

    def counts_by_state(self) -> dict[str, int]:
        """How many deliveries are pending, delivered and failed."""
        found = self.tx.execute(
            select(webhook_deliveries.c.state, func.count()).group_by(webhook_deliveries.c.state)
        )
        return {str(state): int(count) for state, count in found}


def purge_finished(tx: Tx, before: datetime) -> int:
    """Forget deliveries delivered or given up, and events handed out, created before
    ``before`` (attempts go with their delivery); an event some delivery still names stays.
    Returns how many rows went."""
    gone = tx.execute(
        delete(webhook_deliveries).where(
            webhook_deliveries.c.state.in_((DELIVERED, FAILED)),
            webhook_deliveries.c.created_at < before,
        )
    ).rowcount
    named = exists().where(webhook_deliveries.c.event_id == outbox_events.c.id)
    gone += tx.execute(
        delete(outbox_events).where(
            outbox_events.c.state.in_(("dispatched", "damped", "superseded")),
            outbox_events.c.created_at < before,
            ~named,
        )
    ).rowcount
    return int(gone)
