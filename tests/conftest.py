"""Real databases for tests: every database test runs on SQLite and on PostgreSQL.

``database_url`` is parametrized ``sqlite`` / ``postgres``. Both schemas are built by the
real Alembic migrations. SQLite: migrated once per session into a template file, copied
per test. PostgreSQL (``TOKENDESK_TEST_POSTGRES_URL``, admin access): one fresh database per
session, every table emptied before each test, dropped at the end. An unreachable server
skips the PostgreSQL tests, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from support.databases import empty_all_tables
from tokendesk.storage.db import create_db_engine, migrate, normalise_url

POSTGRES_URL_ENV = "TOKENDESK_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_CONNECT_TIMEOUT_S = 5

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _postgres_admin_url() -> str:
    return normalise_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))


def _postgres_url_for(database: str) -> str:
    url = make_url(_postgres_admin_url()).set(database=database)
    return url.render_as_string(hide_password=False)


def _new_database_name() -> str:
    return f"tokendesk_test_{secrets.token_hex(6)}"


# --- SQLite --------------------------------------------------------------------------------


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, checkpointed so the main file holds everything."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = create_db_engine(_sqlite_url(path))
    try:
        migrate(engine)
    finally:
        engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return path


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the admin database; skips (fails under CI) if unreachable."""
    admin_url = _postgres_admin_url()
    engine = create_engine(
        admin_url,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        engine.dispose()
        shown = make_url(admin_url).render_as_string(hide_password=True)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        message = f"PostgreSQL not reachable at {shown} (set {POSTGRES_URL_ENV}): {reason}"
        if in_ci():
            pytest.fail(message + " -- the PostgreSQL tests must run in CI", pytrace=False)
        pytest.skip(message)
    yield engine
    engine.dispose()


def _create_database(admin: Engine, name: str) -> str:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return _postgres_url_for(name)


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_session_database(postgres_admin: Engine) -> Iterator[Engine]:
    """An engine on this session's own migrated PostgreSQL database, dropped at the end."""
    name = _new_database_name()
    url = _create_database(postgres_admin, name)
    engine = create_db_engine(url, pool_size=1, max_overflow=0)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        _drop_database(postgres_admin, name)


# --- what tests use ------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database: a copied SQLite file or an emptied PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "tokendesk.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return _sqlite_url(path)
    engine: Engine = request.getfixturevalue("postgres_session_database")
    empty_all_tables(engine)
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url``, disposed after the test."""
    db_engine = create_db_engine(database_url)
    yield db_engine
    db_engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database without any schema (not migrated), removed after the test."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path / "empty.sqlite3")
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = _new_database_name()
    url = _create_database(admin, name)
    try:
        yield url
    finally:
        _drop_database(admin, name)
