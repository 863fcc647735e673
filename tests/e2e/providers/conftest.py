"""Certified providers end to end: provider emulators in front of the real authorization
server, Tokendesk served for real on SQLite and PostgreSQL, its clock in the test's hand.

``admin``, ``bot``
    API clients of the administrator and of a bot of the invited role.

``desk``
    The same as one ``support.desk.Desk``, with the module's real authorization server.

``open_desk(outbound=None)``
    A Tokendesk of its own, with ``outbound`` when the test must route a host the catalog
    names outright (``api.atlassian.com``) to an emulator.

``emulator(EmulatorClass)``
    Starts that provider's emulator (``tests/support/emulators``) in front of the module's
    real authorization server; stopped when the test ends.

Connections are made the way a user makes them: from the catalog's defaults, placeholders
filled in; then the provider's origin is swapped for the emulator's and the client registered
at the provider (``support.emulators.journey.connection_from_catalog``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE, Desk
from support.emulators.base import ProviderEmulator
from support.tokendesk_server import Clock, TokendeskServer
from tokendesk.oauth.outbound import Outbound

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


@pytest.fixture
def desk(
    tokendesk: TokendeskServer,
    authorization_server: AuthorizationServer,
    admin: httpx.Client,
    bot: httpx.Client,
) -> Desk:
    return Desk(tokendesk, authorization_server, admin, bot)


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


@pytest.fixture
def open_desk(
    database_url: str, tmp_path: Path, clock: Clock, authorization_server: AuthorizationServer
) -> Iterator[Callable[..., Desk]]:
    """``open_desk(outbound=None)``: Tokendesk started (with ``outbound`` when the test must
    route a host the catalog names), an admin and a bot of the invited role; stopped after."""
    opened: list[tuple[TokendeskServer, Desk]] = []

    def open_with(outbound: Outbound | None = None) -> Desk:
        server = TokendeskServer(database_url, tmp_path / "data", clock=clock,
                                 outbound=outbound).start()
        admin = server.api(key_for(server.td, "admin"))
        admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
        bot = server.api(make_user(server.td, "bot", roles=[BOT_ROLE]))
        desk = Desk(server, authorization_server, admin, bot)
        opened.append((server, desk))
        return desk

    yield open_with
    for server, desk in opened:
        desk.admin.close()
        desk.bot.close()
        server.stop()
