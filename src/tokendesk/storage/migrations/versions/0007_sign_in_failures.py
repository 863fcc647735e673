"""failed sign-ins counted in the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 20:30:00

The console's sign-in limiter kept its counts in each process's memory and counted per user
only, so five wrong passwords from anywhere locked any user out. It now counts per (user,
address), per address and per user (with a slower back-off), in this table, so that every
replica sees the same counts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_failures_first_at"), ["first_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_first_at"))
    op.drop_table("sign_in_failures")
