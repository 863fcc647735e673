"""The SMTP settings row, the e-mails of events (one per event and user) and each attempt.

An e-mail is sent under a lease, a conditional UPDATE taken in a short transaction of its
own, so two replicas never send the same e-mail; the (event, user) pair is unique, so an
event never becomes two e-mails to one person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, delete, insert, or_, select, update

from tokendesk.storage.tables import (
    email_attempts,
    email_messages,
    role_permissions,
    smtp_settings,
    user_roles,
    users,
)

SMTP_ROW_ID = 1
PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True, slots=True)
class MailRecord:
    id: str
    event_id: str
    event_seq: int
    kind: str
    user_id: str
    to_address: str
    subject: str
    body: str = field(repr=False)
    state: str
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> MailRecord:
        return cls(**dict(row._mapping))


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    email: str


class SmtpRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self) -> Row[Any] | None:
        return self.tx.execute(
            select(smtp_settings).where(smtp_settings.c.id == SMTP_ROW_ID)
        ).first()

    def save(self, values: dict[str, Any]) -> None:
        if self.get() is None:
            self.tx.execute(insert(smtp_settings).values(id=SMTP_ROW_ID, **values))
        else:
            self.tx.execute(
                update(smtp_settings).where(smtp_settings.c.id == SMTP_ROW_ID).values(**values)
            )


def users_with_permission(tx: Tx, permission: str) -> list[Recipient]:
    """Enabled users with an e-mail address who hold ``permission`` through a role."""
    found = tx.execute(
        select(users.c.id, users.c.email)
        .join(user_roles, user_roles.c.user_id == users.c.id)
        .join(role_permissions, role_permissions.c.role_id == user_roles.c.role_id)
        .where(
            role_permissions.c.permission == permission,
            users.c.disabled.is_(False),
            users.c.email.is_not(None),
        )
        .distinct()
        .order_by(users.c.id)
    )
    return [Recipient(str(uid), str(email)) for uid, email in found if email]


def user_recipient(tx: Tx, user_id: str) -> Recipient | None:
    """The user as a recipient, if enabled and with an e-mail address."""
    row = tx.execute(
        select(users.c.id, users.c.email).where(
            users.c.id == user_id, users.c.disabled.is_(False), users.c.email.is_not(None)
        )
    ).first()
    return None if row is None or not row.email else Recipient(str(row.id), str(row.email))


class MailRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def add(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(email_messages).values(**values))

    def get(self, message_id: str) -> MailRecord | None:
        row = self.tx.execute(
            select(email_messages).where(email_messages.c.id == message_id)
        ).first()
        return None if row is None else MailRecord.of(row)

    def due(self, now: datetime, limit: int) -> list[MailRecord]:
        """Pending e-mails due now and not under a live lease, oldest first."""
        found = self.tx.execute(
            select(email_messages)
            .where(
                email_messages.c.state == PENDING,
                email_messages.c.next_attempt_at <= now,
                or_(email_messages.c.lease_until.is_(None), email_messages.c.lease_until < now),
            )
            .order_by(email_messages.c.event_seq, email_messages.c.id)
            .limit(limit)
        )
        return [MailRecord.of(row) for row in found]

    def take_lease(self, message_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take the lease of a pending e-mail unless another holder's runs."""
        result = self.tx.execute(
            update(email_messages)
            .where(
                email_messages.c.id == message_id,
                email_messages.c.state == PENDING,
                or_(email_messages.c.lease_until.is_(None), email_messages.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=until)
        )
        return result.rowcount == 1

    def finish(self, message_id: str, owner: str, values: dict[str, Any]) -> bool:
        """Write the attempt's outcome and release the lease, if ``owner`` still holds it."""
        result = self.tx.execute(
            update(email_messages)
            .where(email_messages.c.id == message_id, email_messages.c.lease_owner == owner)
            .values(**values, lease_owner=None, lease_until=None)
        )
        return result.rowcount == 1

    def record_attempt(self, values: dict[str, Any]) -> None:
        self.tx.execute(insert(email_attempts).values(**values))

    def purge_finished(self, before: datetime) -> int:
        """Forget e-mails sent or given up before ``before``; returns how many."""
        return int(
            self.tx.execute(
                delete(email_messages).where(
                    email_messages.c.state.in_((SENT, FAILED)),
                    email_messages.c.created_at < before,
                )
            ).rowcount
        )
