"""console drafts and notes in the database

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 23:15:00

The wizard's drafts, the notices a console session shows on its next page and the consents
it started lived in one process's memory, so several replicas needed sticky sessions. They
now live in the database (a draft's typed secret only as key-ring ciphertext), so any replica
serves any page. Neither table feeds a cached handout, so neither has an epoch trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_drafts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_drafts")),
    )
    op.create_table(
        "console_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_notes")),
    )
    for table in ("console_drafts", "console_notes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_session_key"), ["session_key"])
            batch_op.create_index(batch_op.f(f"ix_{table}_expires_at"), ["expires_at"])


def downgrade() -> None:
    for table in ("console_notes", "console_drafts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_expires_at"))
            batch_op.drop_index(batch_op.f(f"ix_{table}_session_key"))
        op.drop_table(table)
