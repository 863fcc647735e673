"""pending revocations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:13:57.596164
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "pending_revocations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payload_ct", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_revocations")),
    )
    with op.batch_alter_table("pending_revocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_revocations_next_attempt_at"), ["next_attempt_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("pending_revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_revocations_next_attempt_at"))

    op.drop_table("pending_revocations")
