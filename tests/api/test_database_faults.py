"""A database that is up but busy answers "try again in a moment", not "not reachable".

The faults are real: another connection holds the lock a request needs (SQLite's write lock,
a PostgreSQL table lock) until the request's wait runs out (SQLite's busy timeout, a
PostgreSQL ``lock_timeout`` set on the database, both shortened for the test).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, select

from support.api import Api
from tokendesk.errors import DatabaseBusy, DatabaseUnavailable
from tokendesk.storage import db
from tokendesk.storage.db import sqlite_path
from tokendesk.storage.faults import database_error
from tokendesk.storage.tables import roles
from tokendesk.wiring import Tokendesk

LOCK_WAIT_MS = 100


@contextmanager
def write_lock_held_elsewhere(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Another connection holds what a write to ``roles`` needs; the app waits briefly."""
    if engine.dialect.name == "sqlite":
        monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", LOCK_WAIT_MS)
        engine.dispose()  # new connections take the short busy timeout
        path = sqlite_path(engine.url.render_as_string())
        assert path is not None
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            writer.rollback()
            writer.close()
        return
    name = engine.url.database
    dsn = _dsn(engine)
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
    dsn = _dsn(postgres_session_database)
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


def test_a_sqlite_file_that_cannot_be_opened_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as raised:
        sqlite3.connect(f"file:{tmp_path}/missing/tokendesk.sqlite3?mode=ro", uri=True)

    assert isinstance(database_error(raised.value), DatabaseUnavailable)


def _dsn(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def probe_rows(postgres_session_database: Engine) -> Iterator[str]:
    """Two rows in a table of the test's own (dropped after: the schema stays the code's);
    returns the DSN to reach them."""
    dsn = _dsn(postgres_session_database)
    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE fault_probe (id int PRIMARY KEY, n int)")
        setup.execute("INSERT INTO fault_probe VALUES (1, 0), (2, 0)")
        try:
            yield dsn
        finally:
            setup.execute("DROP TABLE fault_probe")


def test_a_serialization_failure_is_busy(probe_rows: str) -> None:
    dsn = probe_rows
    with psycopg.connect(dsn) as first, psycopg.connect(dsn) as second:
        for conn in (first, second):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT n FROM fault_probe WHERE id = 1").fetchone()
        first.execute("UPDATE fault_probe SET n = n + 1 WHERE id = 1")
        first.commit()
        with pytest.raises(psycopg.OperationalError) as raised:
            second.execute("UPDATE fault_probe SET n = n + 1 WHERE id = 1")

    assert raised.value.sqlstate == "40001"
    error = database_error(raised.value)
    assert isinstance(error, DatabaseBusy)
    assert error.message == ("Another change to the same data was made at the same moment; "
                             "try again in a moment.")


def test_a_deadlock_is_busy(probe_rows: str) -> None:
    dsn = probe_rows
    failures: list[BaseException] = []
    first_locked, second_locked = threading.Event(), threading.Event()

    def lock_in_order(rows: tuple[int, int], mine: threading.Event,
                      theirs: threading.Event) -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute("SET deadlock_timeout = '100ms'")
            conn.execute("SELECT n FROM fault_probe WHERE id = %s FOR UPDATE", (rows[0],))
            mine.set()
            assert theirs.wait(10)
            try:
                conn.execute("SELECT n FROM fault_probe WHERE id = %s FOR UPDATE", (rows[1],))
            except psycopg.OperationalError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=lock_in_order, args=((1, 2), first_locked, second_locked)),
               threading.Thread(target=lock_in_order, args=((2, 1), second_locked, first_locked))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    [deadlock] = failures  # PostgreSQL breaks the cycle by failing one of the two
    assert deadlock.sqlstate == "40P01"  # type: ignore[attr-defined]
    assert isinstance(database_error(deadlock), DatabaseBusy)
