"""a callback URL per connection (mix-up defence)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 21:00:00

Connections created from now on have their own redirect URI,
``<public_url>/oauth/callback/<connection id>``, so that an answer of an authorization
server that does not name itself (no RFC 9207 ``iss``) still tells which connection it is
for (RFC 9700 §4.4.2). Connections that exist already keep the one shared
``<public_url>/oauth/callback`` registered at their provider: ``shared_callback`` is true
for them and false for every new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy on SQLite), so the table's triggers stay.
    op.add_column(
        "connections",
        sa.Column("shared_callback", sa.Boolean(), server_default="0", nullable=False),
    )
    op.execute(sa.text("UPDATE connections SET shared_callback = :yes").bindparams(yes=True))


def downgrade() -> None:
    op.drop_column("connections", "shared_callback")
