"""what a refused refresh is diagnosed from, and the diagnosis

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 23:20:00

A refresh the provider refuses (invalid_grant, invalid_client) is explained from the
provider's words and from Tokendesk's own facts, recorded here on each token (when its
consent was stored is 0015's ``consented_at``): when its refresh token was issued (consent
or the last rotation), how many times the provider rotated it, the fingerprint (SHA-256) of
the refresh token of a request whose answer was never stored (a second send of it is a
reuse), and the diagnosis itself. A connection records when its client credentials or token
URL last changed. None of these columns feeds a cached handout, so no cache-epoch trigger is
needed; they are added in place (no table copy on SQLite), so the triggers of 0004 and 0006
stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TOKEN_COLUMNS = ("refresh_issued_at", "refresh_rotations", "refresh_sent_sha256", "diagnosis")


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(
            sa.Column("refresh_issued_at", sa.DateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column("refresh_rotations", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("refresh_sent_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("diagnosis", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("connections") as batch:
        batch.add_column(
            sa.Column("client_changed_at", sa.DateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("client_changed_at")
    with op.batch_alter_table("tokens") as batch:
        for column in reversed(_TOKEN_COLUMNS):
            batch.drop_column(column)
