"""a connection's API base URL (the API proxy)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 23:50:00

The API proxy (/proxy/<connection>/<path>) forwards a bot's call to the connection's API
base URL. Catalog providers carry it as a template; a connection may give its own (a custom
connection must). NULL: the provider's template. A plain ADD COLUMN (no table copy on
SQLite), so the epoch triggers on ``connections`` stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("api_base_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("api_base_url")
