"""forecasts already told to receivers

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 00:20:00

``forecast_notices`` keeps one row per forecast date told (``token.expiring``,
``connection.credentials_expiring``): its primary key (subject, due date) is what makes the
event once per date across replicas, since of two replicas inserting the same row in
concurrent transactions only one succeeds. Kept apart from the outbox, whose rows are purged
after their retention, so a forecast that stays due is not told again. A row goes with its
connection or token. Nothing of a handout is read from it: no cache epoch trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_notices",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=True),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"],
            name=op.f("fk_forecast_notices_connection_id_connections"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"],
            name=op.f("fk_forecast_notices_token_id_tokens"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject", "due_at", name=op.f("pk_forecast_notices")),
    )
    op.create_index("ix_forecast_notices_connection_id", "forecast_notices", ["connection_id"])
    op.create_index("ix_forecast_notices_token_id", "forecast_notices", ["token_id"])


def downgrade() -> None:
    op.drop_index("ix_forecast_notices_token_id", table_name="forecast_notices")
    op.drop_index("ix_forecast_notices_connection_id", table_name="forecast_notices")
    op.drop_table("forecast_notices")
