"""facts the forecasts count from

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 23:30:00

A token now keeps when a person last consented (``consented_at``) and when its refresh token
expires as the provider said (``refresh_expires_at``, from ``refresh_token_expires_in`` and
kin); a connection keeps the day its client secret expires as an administrator entered it
(``client_secret_expires_on``). Rows stored before hold NULL: not known. The columns are
added in place (no table copy on SQLite), so the cache epoch triggers of 0004 stay; none of
them is read by a handout, so none needs a trigger of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tokens", sa.Column("consented_at", sa.DateTime(), nullable=True))
    op.add_column("tokens", sa.Column("refresh_expires_at", sa.DateTime(), nullable=True))
    op.add_column("connections", sa.Column("client_secret_expires_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("client_secret_expires_on")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("refresh_expires_at")
        batch.drop_column("consented_at")
