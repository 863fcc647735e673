"""Provider emulators in front of the real authorization server, with Tokendesk served for
real on SQLite and PostgreSQL.

``emulator(EmulatorClass)``
    Starts that provider's emulator (``tests/support/emulators``) in front of the module's
    real authorization server; stopped when the test ends.

``desk``
    Tokendesk, an administrator and a bot of the invited role (``support.desk.Desk``).

Connections are made the way a user makes them: from the catalog's defaults, placeholders
filled in, with the provider's origin swapped for the emulator's
(``support.emulators.catalog.create_from_catalog``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE, Desk
from support.emulators.base import ProviderEmulator
from support.tokendesk_server import Clock, TokendeskServer

E = TypeVar("E", bound=ProviderEmulator)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokendesk(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[TokendeskServer]:
    server = TokendeskServer(database_url, tmp_path / "data", clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def desk(tokendesk: TokendeskServer, authorization_server: AuthorizationServer) -> Iterator[Desk]:
    td = tokendesk.td
    admin = tokendesk.api(key_for(td, "admin"))
    admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    bot = tokendesk.api(make_user(td, "bot", roles=[BOT_ROLE]))
    yield Desk(tokendesk, authorization_server, admin, bot)
    admin.close()
    bot.close()


@pytest.fixture
def emulator(authorization_server: AuthorizationServer) -> Iterator[Callable[[type[E]], E]]:
    started: list[ProviderEmulator] = []

    def start(kind: type[E]) -> E:
        emulator = kind(authorization_server)
        started.append(emulator)
        emulator.start()
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()
