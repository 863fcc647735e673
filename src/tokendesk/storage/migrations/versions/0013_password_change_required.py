"""a new password required at the next sign-in

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 23:20:00

The first administrator gets a generated password (``data/initial-admin-password``); the
console asks for a new one at the first sign-in with it and lets him do nothing else until
then. ``password_change_required`` marks such an account; users that exist already are not
marked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy on SQLite), so the table's triggers stay.
    op.add_column(
        "users",
        sa.Column("password_change_required", sa.Boolean(), server_default="0",
                  nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "password_change_required")
