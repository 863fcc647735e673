"""e-mail notifications: users' e-mail addresses, the SMTP settings, e-mails and attempts

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:59:00

A second consumer of the event outbox: each event becomes one ``email_messages`` row per
user who can fix it, sent under a lease by whichever replica takes it, each attempt kept in
``email_attempts``. ``users.email`` is added in place (no table copy on SQLite), so the
users table keeps its cache epoch triggers; nothing of a handout is read from the new tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "smtp_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("host", sa.String(length=255), nullable=False, server_default=""),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("starttls", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("username", sa.String(length=255), nullable=False, server_default=""),
        sa.Column("password_ct", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(length=254), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False, server_default=""),
        sa.CheckConstraint("id = 1", name=op.f("ck_smtp_settings_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smtp_settings")),
    )
    op.create_table(
        "email_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_email_messages_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("event_id", "user_id", name="uq_email_messages_event"),
    )
    op.create_index(
        "ix_email_messages_state_next", "email_messages", ["state", "next_attempt_at"]
    )
    op.create_table(
        "email_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["email_messages.id"],
            name=op.f("fk_email_attempts_message_id_email_messages"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_attempts")),
    )
    op.create_index("ix_email_attempts_message_id", "email_attempts", ["message_id"])


def downgrade() -> None:
    op.drop_table("email_attempts")
    op.drop_table("email_messages")
    op.drop_table("smtp_settings")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
