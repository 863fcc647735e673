"""The console served in-process (TestClient) on a real, migrated database, SQLite and
PostgreSQL; one ``Console`` per person, each with its own cookies, like separate browsers.

The real-browser tests (Playwright driving Chromium) live in ``tests/e2e/console`` next to
the real authorization server; their browser fixture is defined there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from console_support import PASSWORD, PUBLIC_URL, Console
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from support.api import keyring_spec
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data",
                    public_url=PUBLIC_URL,
                    encryption_keys=keyring_spec(KeyRing.generate()),  # type: ignore[arg-type]
                    background_refresh=False)


@pytest.fixture
def td(settings: Settings) -> Iterator[Tokendesk]:
    app = build(settings, passwords=CHEAP_PASSWORDS)
    with app.transaction() as tx:
        app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", PASSWORD)
    yield app
    app.close()


@pytest.fixture
def app(td: Tokendesk) -> ASGIApp:
    return create_app(td)


@pytest.fixture
def browser(app: ASGIApp) -> Iterator[Callable[[], Console]]:
    """Open a new 'browser' (its own cookie jar) on the console."""
    clients: list[TestClient] = []

    def open_browser() -> Console:
        client = TestClient(app, base_url=PUBLIC_URL)
        clients.append(client)
        return Console(client)

    yield open_browser
    for client in clients:
        client.close()


@pytest.fixture
def admin(browser: Callable[[], Console]) -> Console:
    console = browser()
    assert console.sign_in("admin").status_code == 303
    return console
