"""Only ``serve`` and ``migrate`` upgrade the database schema: every other command refuses a
schema that is behind (or ahead) with one clear line and exit code 8, and changes nothing.
``init`` and ``admin create`` still create the schema of an empty database (first set-up)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from support.api import ADMIN_PASSWORD, keyring_spec
from support.cli import PUBLIC_URL, Cli, one_error_line
from support.processes import ServeProcess
from tokendesk.cli.exit_codes import exit_code_for
from tokendesk.crypto import KeyRing
from tokendesk.errors import SchemaAhead, SchemaBehind
from tokendesk.storage.db import alembic_config, create_db_engine, schema_state

BEHIND = "the database schema is behind this version of tokendesk; run `tokendesk migrate`"


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    db = create_db_engine(empty_database_url)
    yield db
    db.dispose()


@pytest.fixture
def env(empty_database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TOKENDESK_DATABASE_URL": empty_database_url,
        "TOKENDESK_DATA_DIR": str(tmp_path / "data"),
        "TOKENDESK_ENCRYPTION_KEYS": keyring_spec(KeyRing.generate()),
        "TOKENDESK_PUBLIC_URL": PUBLIC_URL,
    }


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    return Cli(env)


def one_migration_behind(engine: Engine) -> str:
    """Migrate ``engine`` to the migration before the head; returns that revision."""
    config = alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_revision("head")
    previous = head.down_revision
    assert isinstance(previous, str)
    command.upgrade(config, previous)
    return previous


def snapshot(engine: Engine) -> tuple[str | None, list[str]]:
    """The revision and the tables of the database."""
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
    return schema_state(engine).current, tables


@pytest.mark.parametrize("args", [
    ("connections", "list"),
    ("users", "list"),
    ("keys", "encryption"),
    ("init",),
    ("admin", "create", "--username", "ops", "--password-stdin"),
], ids=lambda args: " ".join(args[:2]))
def test_a_command_refuses_a_schema_one_migration_behind_and_changes_nothing(
    cli: Cli, engine: Engine, args: tuple[str, ...]
) -> None:
    one_migration_behind(engine)
    before = snapshot(engine)

    result = cli(*args, input=ADMIN_PASSWORD + "\n")

    assert result.exit_code == exit_code_for(SchemaBehind) == 8
    assert BEHIND in one_error_line(result).lower()
    assert snapshot(engine) == before


def test_migrate_brings_a_schema_that_is_behind_to_the_head(cli: Cli, engine: Engine) -> None:
    one_migration_behind(engine)

    migrated = cli("migrate")
    listed = cli("connections", "list")

    assert migrated.exit_code == 0, migrated.stderr
    assert "up to date" in migrated.stdout
    assert schema_state(engine).current_is_head
    assert listed.exit_code == 0, listed.stderr


def test_migrate_at_the_head_changes_nothing(cli: Cli, engine: Engine) -> None:
    cli.ok("init")
    before = snapshot(engine)

    cli.ok("migrate")

    assert snapshot(engine) == before and schema_state(engine).current_is_head


def test_a_command_on_an_empty_database_points_to_init_and_creates_nothing(
    cli: Cli, engine: Engine
) -> None:
    before = snapshot(engine)  # (an empty SQLite file exists from here on)

    result = cli("connections", "list")

    assert result.exit_code == 8
    assert "tokendesk init" in one_error_line(result)
    assert snapshot(engine) == before == (None, [])


def test_init_creates_the_schema_of_an_empty_database(cli: Cli, engine: Engine) -> None:
    cli.ok("init")

    assert schema_state(engine).current_is_head


def test_a_schema_newer_than_this_version_is_refused_even_by_migrate(
    cli: Cli, engine: Engine
) -> None:
    cli.ok("init")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))

    listed, migrated = cli("connections", "list"), cli("migrate")

    assert listed.exit_code == migrated.exit_code == exit_code_for(SchemaAhead) == 8
    assert "newer than this version" in one_error_line(migrated)
    assert schema_state(engine).current == "from_the_future"


def test_serve_upgrades_a_schema_that_is_behind(
    env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    one_migration_behind(engine)

    serve = ServeProcess(env, tmp_path / "serve.log").start()
    serve.stop()

    assert schema_state(engine).current_is_head, serve.logs()
