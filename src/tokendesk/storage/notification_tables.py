"""The tables of notifications: the event outbox, webhooks and their deliveries and attempts
(migration 0012), the forecast notices (0019), the SMTP settings and the e-mails of events
with their attempts (0021).
Import them from :mod:`tokendesk.storage.tables`, which holds the whole schema."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tokendesk.storage.schema_base import UTCDateTime, metadata
from tokendesk.storage.schema_base import id_column as _id
from tokendesk.storage.schema_base import timestamps as _timestamps

outbox_events = Table(
    "outbox_events",
    metadata,
    # Written in the transaction of the change that caused the event (migration 0012); the
    # order of ``seq`` is the order of delivery per ``ordering_key`` (the connection).
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("subject", String(80), nullable=False),
    Column("ordering_key", String(80), nullable=False),
    Column("payload", JSON, nullable=False),
    # domain.events.EventState
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Index("ix_outbox_events_state_seq", "state", "seq"),
    Index("ix_outbox_events_subject_seq", "subject", "seq"),
)

forecast_notices = Table(
    "forecast_notices",
    metadata,
    # One row per forecast date told to receivers (migration 0019): the primary key makes
    # token.expiring / connection.credentials_expiring once per date across replicas.
    Column("subject", String(80), primary_key=True),
    Column("due_at", UTCDateTime, primary_key=True),
    Column("connection_id", ForeignKey("connections.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("token_id", ForeignKey("tokens.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("event_id", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    _id(),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    # The Standard Webhooks signing secret, encrypted like a client secret.
    Column("secret_ct", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_by", String(64), nullable=False, server_default=""),
    *_timestamps(),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event_seq", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ordering_key", String(80), nullable=False),
    # 'pending', 'delivered', or 'failed' (given up after DELIVERY_GIVE_UP_S)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
    Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_order", "webhook_id", "ordering_key", "event_seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    # Why it failed, in words; never the body sent or received.
    Column("error", String(500), nullable=True),
)

smtp_settings = Table(
    "smtp_settings",
    metadata,
    # The SMTP server e-mail notifications go through (migration 0021); one row.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("enabled", Boolean, nullable=False, server_default="0"),
    Column("host", String(255), nullable=False, server_default=""),
    Column("port", Integer, nullable=True),
    Column("starttls", Boolean, nullable=False, server_default="1"),
    Column("username", String(255), nullable=False, server_default=""),
    # Write-only: encrypted with the key ring like a client secret, never shown back.
    Column("password_ct", Text, nullable=True),
    Column("from_address", String(254), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False, server_default=""),
    CheckConstraint("id = 1", name="single_row"),
)

email_messages = Table(
    "email_messages",
    metadata,
    # One e-mail of one event to one user, sent under a lease like a webhook delivery.
    _id(),
    Column("event_id", String(40), nullable=False),
    Column("event_seq", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("to_address", String(254), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    # 'pending', 'sent', or 'failed' (given up after DELIVERY_GIVE_UP_S)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    UniqueConstraint("event_id", "user_id", name="uq_email_messages_event"),
    Index("ix_email_messages_state_next", "state", "next_attempt_at"),
)

email_attempts = Table(
    "email_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        ForeignKey("email_messages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", String(500), nullable=True),
)
