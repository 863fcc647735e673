"""A token set the provider has issued reaches the database, even when the database is
locked right after the provider answered, for longer than the refresh lease.

The lock is real: another connection holds SQLite's write lock, or a PostgreSQL row lock on
the token, from the moment the provider has issued the new token set until the test lets go.
The provider rotates refresh tokens and refuses a used one, so re-sending the old refresh
token would cost the connection a new consent.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fake_provider_desk import CONNECTION, Desk, RotatingProvider, build_desk
from sqlalchemy import Engine

from oauth.oauth_fakes import FakeTokenEndpoint
from tokendesk.domain.tokens import TokenKind, TokenStatus
from tokendesk.errors import DatabaseBusy
from tokendesk.storage import db
from tokendesk.storage.db import sqlite_path

LOCK_WAIT_MS = 100
LEASE_S = 1.0
STORED_WITHIN_S = 20.0  # a bound for the loop that waits, not a promise of the product


class LockHolder:
    """Another connection that takes what the refresh's writes need, and lets go on demand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.token_id = ""
        self._held: Any = None

    def take(self) -> None:
        if self.engine.dialect.name == "sqlite":
            path = sqlite_path(self.engine.url.render_as_string(hide_password=False))
            assert path is not None
            self._held = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._held.execute("BEGIN IMMEDIATE")  # the write lock: every writer waits
            return
        self._held = psycopg.connect(_dsn(self.engine))
        self._held.execute("SELECT id FROM tokens WHERE id = %s FOR UPDATE", (self.token_id,))

    def release(self) -> None:
        if self._held is not None:
            self._held.rollback()
            self._held.close()
            self._held = None


@contextmanager
def writes_wait_briefly(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The desk's writes give up after LOCK_WAIT_MS instead of the production wait."""
    if engine.dialect.name == "sqlite":
        monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", LOCK_WAIT_MS)
        engine.dispose()  # new connections take the short busy timeout
        yield
        return
    name = engine.url.database
    with psycopg.connect(_dsn(engine), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET lock_timeout = '{LOCK_WAIT_MS}ms'")
        engine.dispose()
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" RESET lock_timeout')
            engine.dispose()


def _dsn(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def provider() -> RotatingProvider:
    return RotatingProvider()


@pytest.fixture
def desk(database_url: str, tmp_path: Path, provider: RotatingProvider) -> Iterator[Desk]:
    built = build_desk(database_url, tmp_path / "data", FakeTokenEndpoint([provider]),
                       lease_s=LEASE_S)
    yield built
    built.td.close()


def wait_for_stored_refresh_token(desk: Desk, token_id: str, expected: str) -> str | None:
    deadline = time.monotonic() + STORED_WITHIN_S
    while (found := desk.stored_refresh_token(token_id)) != expected:
        if time.monotonic() > deadline:
            return found
        time.sleep(0.05)
    return found


def test_a_rotated_token_set_reaches_a_database_locked_longer_than_the_lease(
    desk: Desk, provider: RotatingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = desk.consent("rt-1", lifetime_s=60)
    holder = LockHolder(desk.td.engine)
    holder.token_id = token.id
    provider.on_answer.append(holder.take)  # locked right after the provider answered
    desk.clock.advance(120)  # expired: the next handout refreshes

    try:
        with writes_wait_briefly(desk.td.engine, monkeypatch):
            with pytest.raises(DatabaseBusy):
                desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED)
            provider.on_answer.clear()
            desk.clock.advance(10 * LEASE_S)  # the lease has run out; the lock is still held
            with pytest.raises(DatabaseBusy):
                desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)
            desk.td.background.sweep()
            assert provider.presented == ["rt-1"]  # the used refresh token was never re-sent

            holder.release()
            stored = wait_for_stored_refresh_token(desk, token.id, "rt-2")
    finally:
        holder.release()

    assert stored == "rt-2"
    handed = desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED)
    assert handed.access_token.reveal() == "at-1"
    assert provider.presented == ["rt-1"]
    row = desk.row(token.id)
    assert row.status is TokenStatus.VALID
    assert row.lease_owner is None


def test_a_handout_during_the_lock_gets_the_new_token_once_the_database_takes_it(
    desk: Desk, provider: RotatingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending token set is what the next request of this process waits for and uses:
    it never starts a refresh of its own."""
    token = desk.consent("rt-1", lifetime_s=60)
    holder = LockHolder(desk.td.engine)
    holder.token_id = token.id
    provider.on_answer.append(holder.take)
    desk.clock.advance(120)

    try:
        with writes_wait_briefly(desk.td.engine, monkeypatch):
            with pytest.raises(DatabaseBusy):
                desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED)
            holder.release()
            assert wait_for_stored_refresh_token(desk, token.id, "rt-2") == "rt-2"
            handed = desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED)
    finally:
        holder.release()

    assert handed.access_token.reveal() == "at-1"
    assert provider.presented == ["rt-1"]
