"""cache epoch in shards, one per database connection

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:00:00

Every change to a watched row bumped the one ``cache_epoch`` row, so on PostgreSQL two
transactions changing different tokens queued on that row's lock until the first committed:
concurrent refreshes were serialised on it. The epoch is now the sum of ``SHARDS`` rows and a
transaction bumps the row of its own database connection (``pg_backend_pid() % SHARDS``), so
concurrent transactions on different connections no longer wait for each other. A committed
change still raises the sum that every later snapshot sees. SQLite has one writer at a time
and keeps its one row (its check constraint stays ``id = 1``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SHARDS = 64


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: one writer at a time, nothing to wait for; row 1 stays the epoch
    op.drop_constraint(op.f("ck_cache_epoch_single_row"), "cache_epoch", type_="check")
    op.create_check_constraint(op.f("ck_cache_epoch_shard"), "cache_epoch",
                               f"id >= 0 AND id < {SHARDS}")
    shards = sa.table("cache_epoch", sa.column("id", sa.Integer), sa.column("value", sa.Integer))
    op.bulk_insert(shards, [{"id": i, "value": 0} for i in range(SHARDS) if i != 1])
    _bump_in(f"pg_backend_pid() % {SHARDS}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _bump_in("1")
    op.execute("UPDATE cache_epoch SET value = (SELECT sum(value) FROM cache_epoch) WHERE id = 1")
    op.execute("DELETE FROM cache_epoch WHERE id <> 1")
    op.drop_constraint(op.f("ck_cache_epoch_shard"), "cache_epoch", type_="check")
    op.create_check_constraint(op.f("ck_cache_epoch_single_row"), "cache_epoch", "id = 1")


def _bump_in(shard: str) -> None:
    """Make the trigger function bump the shard ``shard`` (an SQL expression of ours)."""
    op.execute(_BUMP.replace("{shard}", shard))


_BUMP = ("CREATE OR REPLACE FUNCTION bump_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$ "
         "BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = {shard}; RETURN NULL; END $$")
