"""The migrations build the schema the tables describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, select, types
from sqlalchemy.exc import IntegrityError, StatementError

from tokendesk.storage import tables
from tokendesk.storage.db import alembic_config, create_db_engine, migrate, schema_is_current


def _compare_type(
    _context: MigrationContext,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_type: types.TypeEngine[Any],
    metadata_type: types.TypeEngine[Any],
) -> bool | None:
    """UTCDateTime is stored as a plain DateTime: equal. Anything else: Alembic decides."""
    if isinstance(metadata_type, tables.UTCDateTime) and isinstance(inspected_type, types.DateTime):
        return False
    return None


def test_the_migrations_build_exactly_the_tables_the_code_describes(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": _compare_type, "target_metadata": tables.metadata}
        )
        differences = compare_metadata(context, tables.metadata)
    assert differences == []


def test_the_schema_is_current_after_migrating(engine: Engine) -> None:
    assert schema_is_current(engine)


def test_an_empty_database_is_not_current_until_migrated(empty_database_url: str) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        assert not schema_is_current(engine)
        migrate(engine)
        assert schema_is_current(engine)
        migrate(engine)  # a second run changes nothing
        assert schema_is_current(engine)
    finally:
        engine.dispose()


def test_the_migrations_downgrade_to_nothing_and_up_again(empty_database_url: str) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        migrate(engine)
        command.downgrade(alembic_config(engine), "base")
        assert not schema_is_current(engine)
        migrate(engine)
        assert schema_is_current(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_row_pointing_at_a_missing_row_is_refused(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(tables.user_roles).values(user_id="nobody", role_id="nothing"))


def test_an_aware_datetime_comes_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    written = datetime(2026, 11, 28, 15, 30, 12, 345678, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        conn.execute(
            insert(tables.encryption_keys).values(
                key_id="k1", check_value="v1:k1:x", created_at=written
            )
        )
    with engine.connect() as conn:
        read = conn.execute(select(tables.encryption_keys.c.created_at)).scalar_one()
    assert read == written
    assert read.tzinfo == UTC
    assert read.hour == 13


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    naive = datetime(2026, 11, 28, 14, 0)  # the point of the test
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(
            insert(tables.encryption_keys).values(
                key_id="k1", check_value="v1:k1:x", created_at=naive
            )
        )
    with engine.connect() as conn:
        assert conn.execute(select(tables.encryption_keys)).all() == []
