"""where each token's expiry came from

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 21:30:00

Salesforce sends no expires_in; its tokens live as long as the org's session timeout, which
the provider's introspection endpoint (RFC 7662) answers. A token's state now says where its
expiry came from (expires_in, introspection, the catalog default, the JWT exp claim), so a
person can tell a figure the provider gave from one Tokendesk assumed. Rows stored before
hold NULL: not recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("expiry_source", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("expiry_source")
