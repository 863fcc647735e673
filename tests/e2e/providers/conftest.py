"""Certified providers end to end: Tokendesk served for real (SQLite and PostgreSQL), its
clock in the test's hand, an administrator and a bot of an invited role; each test module
brings its provider's emulator (tests/support/emulators)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.api import key_for, make_user
from support.desk import BOT_ROLE
from support.tokendesk_server import Clock, TokendeskServer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokendesk(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[TokendeskServer]:
    server = TokendeskServer(database_url, tmp_path / "data", clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def admin(tokendesk: TokendeskServer) -> Iterator[httpx.Client]:
    client = tokendesk.api(key_for(tokendesk.td, "admin"))
    client.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    yield client
    client.close()


@pytest.fixture
def bot(tokendesk: TokendeskServer, admin: httpx.Client) -> Iterator[httpx.Client]:
    client = tokendesk.api(make_user(tokendesk.td, "bot", roles=[BOT_ROLE]))
    yield client
    client.close()
