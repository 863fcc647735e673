"""egress allowlist editable by administrators

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00

One row holding the hosts and CIDR ranges an administrator allowlisted through the console,
API or CLI, on top of ``TOKENDESK_EGRESS_ALLOWLIST``. It is read in the transaction of every
outbound call and save-time check, never cached, so it needs no cache epoch trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "egress_allowlist",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), server_default="", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_egress_allowlist_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_egress_allowlist")),
    )


def downgrade() -> None:
    op.drop_table("egress_allowlist")
