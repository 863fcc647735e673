"""Provider emulators' end-to-end tests: Tokendesk served for real, the test clock, and the
cast of a scenario (an administrator, a bot of an invited role). Each test module starts its
provider's emulator in front of the module's real authorization server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE, Desk
from support.tokendesk_server import Clock, TokendeskServer
from tokendesk.oauth.outbound import Outbound


@pytest.fixture
def clock() -> Clock:
    return Clock()


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
