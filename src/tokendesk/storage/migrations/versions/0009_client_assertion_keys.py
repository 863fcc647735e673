"""client keys and certificates for private_key_jwt

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:30:00

A connection may authenticate its client with a signed assertion (RFC 7523, client auth
method ``private_key_jwt``) instead of a secret. The private key is stored encrypted like
the client secret (``client_key_ct``, the row's identity bound as associated data); the
certificate some providers need (Microsoft) is public and stored as PEM text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_key_ct", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("client_certificate", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("client_certificate")
        batch_op.drop_column("client_key_ct")
