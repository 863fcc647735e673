"""Engines and migrations: SQLite (WAL, foreign keys on) by default, PostgreSQL via psycopg 3."""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from tokendesk.errors import SchemaAhead, SchemaBehind

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# A database server that stops answering (rather than refusing) must not hold requests for
# the operating system's TCP timeout: connecting gives up after this long.
POSTGRES_CONNECT_TIMEOUT_S = 5
# Execution option marking a transaction that only reads.
READ_ONLY = "tokendesk_read_only"
VERSION_TABLE = "alembic_version"  # Alembic's default, which storage/migrations/env.py keeps


class Transaction(Protocol):
    """Opens one short database transaction, committed when the block ends and rolled back
    on error; ``read_only`` ones never wait for writers.

    The type of what the token lifecycle receives: its operations open their own short
    transactions and may call a provider between them (docs/architecture.md).
    """

    def __call__(self, *, read_only: bool = False) -> AbstractContextManager[Connection]: ...


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (its folder 0700) unless it exists: the SQLite
    file holds ciphertexts and hashes that nobody but Tokendesk's user should read. SQLite
    gives its -wal and -shm files the mode of the database file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):  # kept as it is: an operator chose its mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, foreign keys and a busy timeout."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            create_private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S})
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, issue BEGIN so transactions are explicit.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_read_only(conn: Any) -> bool:
    """True for a connection opened as a read-only transaction (it must not write)."""
    return bool(conn.get_execution_options().get(READ_ONLY))


def _sqlite_begin_immediate(conn: Any) -> None:
    # A writing transaction takes the write lock up front: two writers upgrading a read lock
    # would deadlock. A reading one (READ_ONLY option) begins deferred, so readers never wait
    # for writers in WAL mode.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to the latest migration."""
    command.upgrade(alembic_config(engine), "head")


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the latest migration."""
    return schema_state(engine).current_is_head


@dataclass(frozen=True)
class SchemaState:
    """The database's Alembic revision (None: no schema yet) beside this version's head."""

    current: str | None
    head: str | None
    known: bool  # the current revision is one of this version's migrations

    @property
    def current_is_head(self) -> bool:
        return self.current == self.head


def schema_state(engine: Engine) -> SchemaState:
    """Where the database's schema stands; reads only."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = _current_revision(conn)
    known = current is None or any(s.revision == current for s in scripts.walk_revisions())
    return SchemaState(current, scripts.get_current_head(), known)


def _current_revision(conn: Connection) -> str | None:
    # Read the version table directly: Alembic's MigrationContext logs at INFO level on every
    # configure, which would put migration lines before a start-up refusal that migrates nothing.
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    revisions = sorted(str(rev) for rev in conn.execute(
        text("SELECT version_num FROM alembic_version")).scalars())
    # Several rows would be several branch heads, which no version of Tokendesk has: the
    # joined name is then unknown, and the schema refused as one from elsewhere.
    return ",".join(revisions) or None


def schema_needs_migrating(engine: Engine, *, upgrade: bool, create: bool) -> bool:
    """Whether ``migrate`` must run before Tokendesk may use the database.

    ``upgrade`` allows bringing an older schema up to date (``serve`` and ``migrate``);
    ``create`` allows creating the schema of an empty database (first set-up). Reads only.

    Raises SchemaBehind for an older or absent schema that may not be touched here, and
    SchemaAhead for one migrated by a newer version (never downgraded, never used).
    """
    state = schema_state(engine)
    if state.current_is_head:
        return False
    if not state.known:
        raise SchemaAhead(
            f"The database schema (revision {state.current}) is newer than this version of "
            "Tokendesk; run the Tokendesk version that migrated it."
        )
    if upgrade or (create and state.current is None):
        return True
    if state.current is None:
        raise SchemaBehind(
            "The database has no Tokendesk schema yet; run `tokendesk init` to set it up "
            "(or `tokendesk migrate`), or check TOKENDESK_DATABASE_URL."
        )
    raise SchemaBehind(
        "The database schema is behind this version of Tokendesk; run `tokendesk migrate`."
    )
