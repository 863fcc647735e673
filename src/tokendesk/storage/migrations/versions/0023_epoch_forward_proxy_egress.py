"""the cache epoch moves on the forward proxy and the egress allowlist

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 02:30:00

The API proxy remembers each connection's target -- its API base URL and the route to it --
for one cache epoch (``tokens/api_targets.py``). The route also comes from the global forward
proxy (``forward_proxy``) and the egress allowlist (``egress_allowlist``), which had no
trigger: a change to either now moves the epoch too, so the next call on every replica reads
the route again. Both change rarely (an administrator's setting), so the handouts cached
under the same epoch lose nothing that matters.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLES = ("forward_proxy", "egress_allowlist")
SQLITE_BUMP = "UPDATE cache_epoch SET value = value + 1 WHERE id = 1;"  # as in 0004


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:  # the function of 0004, bumping this connection's shard since 0006
            op.execute(f"CREATE TRIGGER epoch_{table} AFTER INSERT OR DELETE OR UPDATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch()")
            continue
        for event in ("INSERT", "DELETE", "UPDATE"):
            op.execute(f"CREATE TRIGGER epoch_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN {SQLITE_BUMP} END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS epoch_{table} ON {table}")
            continue
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS epoch_{table}_{event}")
