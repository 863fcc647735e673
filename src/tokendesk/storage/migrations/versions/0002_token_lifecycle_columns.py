"""token lifecycle columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:48:32.608277
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("authorization_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage", sa.String(length=8), server_default="sent", nullable=False)
        )

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=32), server_default="ok", nullable=False)
        )
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("client_auth_method", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("revocation_url", sa.String(length=2048), nullable=True))

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_at", sa.DateTime(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("issued_at")

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("revocation_url")
        batch_op.drop_column("client_auth_method")
        batch_op.drop_column("last_error")
        batch_op.drop_column("status")

    with op.batch_alter_table("authorization_requests", schema=None) as batch_op:
        batch_op.drop_column("stage")
