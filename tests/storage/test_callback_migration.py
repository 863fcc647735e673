"""Migration 0008: connections that existed keep the shared callback URL registered at their
provider; every connection created afterwards gets its own."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import insert, select, text

from tokendesk.storage import tables
from tokendesk.storage.db import alembic_config, create_db_engine, migrate

OLD_ROW = ("INSERT INTO connections (id, name, name_key, provider, grant_type, client_id, "
           "token_url, scopes, pkce, placeholders, created_at, updated_at) VALUES ('old', 'Old', "
           "'old', 'custom', 'authorization_code', 'c', 'https://a.example/t', '[]', true, '{}', "
           "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")


def test_connections_from_before_0008_keep_the_shared_callback_and_new_ones_do_not(
    empty_database_url: str,
) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        command.upgrade(alembic_config(engine), "0007")
        with engine.begin() as conn:
            conn.execute(text(OLD_ROW))
        migrate(engine)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(insert(tables.connections).values(
                id="new", name="New", name_key="new", provider="custom",
                grant_type="authorization_code", client_id="c", token_url="https://a.example/t",
                scopes=[], pkce=True, placeholders={}, created_at=now, updated_at=now))
            shared = dict(conn.execute(select(tables.connections.c.id,
                                              tables.connections.c.shared_callback)).all())
    finally:
        engine.dispose()

    assert shared == {"old": True, "new": False}
