"""Genesys connections: the old <yourinstance> placeholder becomes the <region> choice

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:30:00

Genesys Cloud's URL template was ``https://login.<yourinstance>.pure.cloud/...``, the
placeholder holding the part between ``login.`` and ``.pure.cloud`` (``usw2``). It is now
``https://login.<region>/...``, the region chosen from the documented list by its login host
(``usw2.pure.cloud``, ``mypurecloud.de``). A Genesys connection stored before keeps its URLs
(they are stored filled in) and gets the region its token URL signs in at: the host after
``login.``, or else the old value with ``.pure.cloud``. So it can be edited, exported and
applied again under the choice without a person retyping anything.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD = "yourinstance"
NEW = "region"
OLD_SUFFIX = ".pure.cloud"

connections = sa.table(
    "connections",
    sa.column("id", sa.String()),
    sa.column("provider", sa.String()),
    sa.column("token_url", sa.Text()),
    sa.column("placeholders", sa.JSON()),
)


def region_of(token_url: str, placeholders: dict[str, Any]) -> str | None:
    """The region a stored Genesys connection signs in at, or None when nothing says."""
    host = (urlsplit(token_url or "").hostname or "").lower()
    if host.startswith("login.") and "." in host[len("login."):]:
        return host[len("login."):]
    old = str(placeholders.get(OLD) or placeholders.get(NEW) or "").strip().lower()
    if not old:
        return None
    return old if "." in old else old + OLD_SUFFIX


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(connections.c.id, connections.c.token_url, connections.c.placeholders)
        .where(connections.c.provider == "genesys")
    ).all()
    for row in rows:
        placeholders = dict(row.placeholders or {})
        if OLD not in placeholders and "." in str(placeholders.get(NEW, ".")):
            continue  # made under the choice already
        region = region_of(row.token_url, placeholders)
        placeholders.pop(OLD, None)
        if region is not None:
            placeholders[NEW] = region
        bind.execute(
            sa.update(connections).where(connections.c.id == row.id)
            .values(placeholders=placeholders)
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(connections.c.id, connections.c.placeholders)
        .where(connections.c.provider == "genesys")
    ).all()
    for row in rows:
        placeholders = dict(row.placeholders or {})
        region = str(placeholders.get(NEW, ""))
        if not region.endswith(OLD_SUFFIX):
            continue  # the old template could not express this region: keep it
        placeholders.pop(NEW)
        placeholders[OLD] = region[: -len(OLD_SUFFIX)]
        bind.execute(
            sa.update(connections).where(connections.c.id == row.id)
            .values(placeholders=placeholders)
        )
