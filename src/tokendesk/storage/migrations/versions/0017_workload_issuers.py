"""trusted workload issuers, their mapping rules, and used token ids

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 23:55:00

A workload (a CI job, a Kubernetes pod, an agent) proves who it is with a JWT its platform
gives it, and exchanges it for a connection's token (RFC 8693). ``workload_issuers`` holds
the issuers administrators trust (audiences, algorithms, maximum lifetime);
``workload_rules`` maps a token's claims to a principal; ``workload_token_uses`` remembers
the ``jti`` of tokens already exchanged, for issuers that refuse replays, until they expire.
The handout's cache never reads these tables (a JWT bearer takes the slow path), so they
need no cache epoch trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workload_issuers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("audiences", sa.JSON(), nullable=False),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("max_lifetime_s", sa.Integer(), nullable=False),
        sa.Column("refuse_replay", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workload_issuers")),
        sa.UniqueConstraint("name_key", name=op.f("uq_workload_issuers_name_key")),
        sa.UniqueConstraint("issuer", name=op.f("uq_workload_issuers_issuer")),
    )
    op.create_table(
        "workload_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("issuer_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("workload", sa.String(length=64), nullable=True),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["workload_issuers.id"],
                                name=op.f("fk_workload_rules_issuer_id_workload_issuers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_workload_rules_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workload_rules")),
    )
    with op.batch_alter_table("workload_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workload_rules_issuer_id"), ["issuer_id"],
                              unique=False)
    op.create_table(
        "workload_token_uses",
        sa.Column("issuer_id", sa.String(length=32), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["workload_issuers.id"],
                                name=op.f("fk_workload_token_uses_issuer_id_workload_issuers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issuer_id", "jti", name=op.f("pk_workload_token_uses")),
    )
    with op.batch_alter_table("workload_token_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workload_token_uses_expires_at"), ["expires_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workload_token_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workload_token_uses_expires_at"))
    op.drop_table("workload_token_uses")
    with op.batch_alter_table("workload_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workload_rules_issuer_id"))
    op.drop_table("workload_rules")
    op.drop_table("workload_issuers")
