"""A database that is up but busy answers "try again in a moment", not "not reachable".

The faults are real: another connection holds the lock a request needs (SQLite's write lock,
a PostgreSQL table lock) until the request's wait runs out (SQLite's busy timeout, a
PostgreSQL ``lock_timeout`` set on the database, both shortened for the test).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import Engine, select

from support.api import Api
from tokendesk.errors import DatabaseBusy, DatabaseUnavailable
from tokendesk.services.wiring import Tokendesk
from tokendesk.storage import db
from tokendesk.storage.db import sqlite_path
from tokendesk.storage.faults import database_error
from tokendesk.storage.tables import roles

LOCK_WAIT_MS = 100


@contextmanager
def write_lock_held_elsewhere(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Another connection holds what a write to ``roles`` needs; the app waits briefly."""
    if engine.dialect.name == "sqlite":
        monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", LOCK_WAIT_MS)
        engine.dispose()  # new connections take the short busy timeout
        holder = sqlite3.connect(sqlite_path(engine.url.render_as_string()), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    name = engine.url.database
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET lock_timeout = '{LOCK_WAIT_MS}ms'")
        try:
            engine.dispose()  # new connections take the setting
            with psycopg.connect(dsn) as holder:
                holder.execute("LOCK TABLE roles IN EXCLUSIVE MODE")  # reads pass, writes wait
                yield
                holder.rollback()
        finally:
            admin.execute(f'ALTER DATABASE "{name}" RESET lock_timeout')
            engine.dispose()


def test_a_write_that_waits_too_long_for_a_lock_is_busy_and_loses_nothing(
    admin: Api, td: Tokendesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"name": "Finance bots", "permissions": ["oauth_connections.view"]}
    with write_lock_held_elsewhere(td.engine, monkeypatch):
        busy = admin.post("/roles", json=body)
        assert admin.get("/roles").status_code == 200  # reading is not held up

    assert busy.status_code == 503, busy.text
    assert busy.json()["error"]["code"] == "database_busy"
    assert "try again in a moment" in busy.json()["error"]["message"]
    assert "not reachable" not in busy.json()["error"]["message"]
    assert busy.headers["Retry-After"] == "1"

    again = admin.post("/roles", json=body)
    assert again.status_code == 201, again.text
    with td.engine.connect() as conn:
        assert conn.execute(select(roles.c.name).where(roles.c.name == "Finance bots")).all() \
            == [("Finance bots",)]


def test_a_statement_timeout_is_busy(postgres_session_database: Engine) -> None:
    dsn = postgres_session_database.url.set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.OperationalError) as raised:
            conn.execute("SELECT pg_sleep(5)")

    error = database_error(raised.value)
    assert isinstance(error, DatabaseBusy)
    assert error.message == "The database took too long to answer; try again in a moment."


def test_a_server_that_refuses_connections_is_unreachable() -> None:
    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect("postgresql://tokendesk@127.0.0.1:9/tokendesk", connect_timeout=2)

    error = database_error(raised.value)
    assert isinstance(error, DatabaseUnavailable)
    assert str(error) == "The database is not reachable right now; try again shortly."


def test_a_sqlite_file_that_cannot_be_opened_is_unreachable(tmp_path: object) -> None:
    with pytest.raises(sqlite3.OperationalError) as raised:
        sqlite3.connect(f"file:{tmp_path}/missing/tokendesk.sqlite3?mode=ro", uri=True)

    assert isinstance(database_error(raised.value), DatabaseUnavailable)
