"""cache epoch bumped by triggers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:30:00

Every replica caches principals, invitations, connections and decrypted tokens in memory
and reads this one value per request: any change to the rows those caches come from bumps
it -- in the database itself, so no code path can forget -- and the next request on every
replica sees the change. Columns that change often without affecting what is cached
(``api_keys.last_used_at``, the refresh lease of ``tokens``) do not bump it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table -> the columns whose UPDATE matters (None: any column); INSERT and DELETE always do.
WATCHED: dict[str, tuple[str, ...] | None] = {
    "users": None,
    "roles": None,
    "role_permissions": None,
    "user_roles": None,
    "api_keys": ("prefix", "secret_hash", "user_id", "revoked_at"),
    "connections": None,
    "connection_roles": None,
    "tokens": ("version", "status", "access_token_ct", "expires_at", "user_id"),
    "encryption_keys": None,
}


def upgrade() -> None:
    op.create_table(
        "cache_epoch",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_cache_epoch_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_epoch")),
    )
    op.execute("INSERT INTO cache_epoch (id, value) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    bump = "UPDATE cache_epoch SET value = value + 1 WHERE id = 1;"
    for table, columns in WATCHED.items():
        for event in ("INSERT", "DELETE", "UPDATE"):
            target = f"UPDATE OF {', '.join(columns)}" if event == "UPDATE" and columns else event
            op.execute(f"CREATE TRIGGER epoch_{table}_{event.lower()} AFTER {target} ON {table} "
                       f"BEGIN {bump} END")


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION bump_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; RETURN NULL; END $$"
    )
    for table, columns in WATCHED.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        op.execute(f"CREATE TRIGGER epoch_{table} AFTER INSERT OR DELETE OR {update} ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS epoch_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_cache_epoch()")
    else:
        for table in WATCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS epoch_{table}_{event}")
    op.drop_table("cache_epoch")
