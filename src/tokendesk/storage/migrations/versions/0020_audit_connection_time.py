"""a connection's audit events by time

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 00:35:00

A connection's page counts its audit events per hour of the last days (its timeline): the
index on ``audit_events.connection_id`` becomes one on ``(connection_id, at)``, so that the
count reads only the rows of those days, not every event the connection ever had. It still
serves every lookup by connection alone, and the hot path writes no more indexes than before.
Indexes only: nothing is copied, no trigger is touched (audit_events has none).
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_connection_at", "audit_events", ["connection_id", "at"])
    op.drop_index("ix_audit_events_connection_id", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_connection_id", "audit_events", ["connection_id"])
    op.drop_index("ix_audit_events_connection_at", table_name="audit_events")
