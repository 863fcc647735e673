"""The console in a real browser: Playwright driving Debian's Chromium, against Tokendesk
served by uvicorn and the real authorization server (oidc-provider) of the e2e suite.

Without ``/usr/bin/chromium`` or the ``playwright`` package these tests are skipped with the
reason; under ``CI=true`` they fail instead. SQLite only (the console is the same on both
databases; the non-browser console tests in ``tests/console`` cover PostgreSQL).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, STEP_TIMEOUT_MS, Scene

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer, default_clients, in_ci
from support.desk import BOT_ROLE
from support.tokendesk_server import Clock, TokendeskServer


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(reason + " -- the browser tests must run in CI", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) with one tab."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    yield tab
    context.close()


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    # People sign in and consent on the server's own pages, as they would at a provider.
    return {"auto_approve_user": None}


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "tokendesk.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def tokendesk(sqlite_url: str, tmp_path: Path) -> Iterator[TokendeskServer]:
    server = TokendeskServer(sqlite_url, tmp_path / "data", clock=Clock()).start()
    yield server
    server.stop()


@pytest.fixture
def scene(tokendesk: TokendeskServer, authorization_server: AuthorizationServer
          ) -> Iterator[Scene]:
    for client in default_clients([tokendesk.callback_url]):
        authorization_server.register_client(client)
    td = tokendesk.td
    admin = tokendesk.api(key_for(td, "admin"))
    admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    bot = tokendesk.api(make_user(td, "bot", roles=[BOT_ROLE]))
    yield Scene(tokendesk, authorization_server, admin, bot)
    admin.close()
    bot.close()
