"""a proxy per connection

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 00:10:00

A connection reaches its provider through the global forward proxy (``proxy_mode``
'global', what every connection stored before does), directly ('none'), or through its own
proxy ('own': ``proxy_url`` without credentials, ``proxy_username``, the password sealed with
the key ring in ``proxy_password_ct`` like the client secret, and ``proxy_bypass``, the hosts
reached directly). The columns are added in place (no table copy on SQLite), so the cache
epoch triggers of 0004 stay; any change to ``connections`` moves the epoch already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("proxy_mode", sa.String(8), nullable=False,
                                           server_default="global"))
    op.add_column("connections", sa.Column("proxy_url", sa.String(2048), nullable=True))
    op.add_column("connections", sa.Column("proxy_username", sa.String(255), nullable=False,
                                           server_default=""))
    op.add_column("connections", sa.Column("proxy_password_ct", sa.Text(), nullable=True))
    op.add_column("connections", sa.Column("proxy_bypass", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("proxy_bypass")
        batch.drop_column("proxy_password_ct")
        batch.drop_column("proxy_username")
        batch.drop_column("proxy_url")
        batch.drop_column("proxy_mode")
