"""Tokendesk served for real next to a real authorization server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer, default_clients
from support.desk import BOT_ROLE, Desk
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
def oauth_server(
    authorization_server: AuthorizationServer, tokendesk: TokendeskServer
) -> AuthorizationServer:
    """The module's oidc-provider, its clients redirecting to this test's Tokendesk callback,
    with its statistics, request log, faults and settings as started (an earlier test of the
    module may have left a fault unconsumed)."""
    authorization_server.reset()
    for client in default_clients([tokendesk.callback_url]):
        authorization_server.register_client(client)
    return authorization_server


@pytest.fixture
def desk(tokendesk: TokendeskServer, oauth_server: AuthorizationServer) -> Iterator[Desk]:
    td = tokendesk.td
    admin = tokendesk.api(key_for(td, "admin"))
    admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    bot = tokendesk.api(make_user(td, "bot", roles=[BOT_ROLE]))
    yield Desk(tokendesk, oauth_server, admin, bot)
    admin.close()
    bot.close()
