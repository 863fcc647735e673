"""End-to-end fixtures: a real OAuth 2.0 authorization server (oidc-provider on Node.js).

``start_authorization_server(**options)``
    A factory: each call starts a new server (options of
    :meth:`support.authorization_server.AuthorizationServer.start`), stopped when the test
    ends. Use it when a test needs its own clients, redirect URIs, lifetimes or a restart.

``authorization_server``
    One server per test module, with the default clients (see ``default_clients``) for the
    redirect URIs of ``authorization_server_options``; before each test its statistics,
    request log and faults are reset and its settings restored. A module overrides the
    module-scoped ``authorization_server_options`` fixture to change how it is started, or
    calls ``authorization_server.register_client(...)`` for a redirect URI known only later.

Without Node.js or ``node_modules/oidc-provider`` these tests are skipped -- under
``CI=true`` they fail instead. Every test in this directory is marked ``e2e``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.authorization_server import AuthorizationServer, require_authorization_server

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def start_authorization_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., AuthorizationServer]]:
    require_authorization_server()
    started: list[AuthorizationServer] = []

    def start(**options: Any) -> AuthorizationServer:
        server = AuthorizationServer(log_dir=tmp_path_factory.mktemp("authorization-server"))
        started.append(server)
        return server.start(**options)

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    """Options of the module's ``authorization_server``; override in a test module."""
    return {}


@pytest.fixture(scope="module")
def _module_authorization_server(
    authorization_server_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthorizationServer]:
    require_authorization_server()
    server = AuthorizationServer(log_dir=tmp_path_factory.mktemp("authorization-server"))
    server.start(**authorization_server_options)
    yield server
    server.stop()


@pytest.fixture
def authorization_server(_module_authorization_server: AuthorizationServer) -> AuthorizationServer:
    server = _module_authorization_server
    if not server.running:  # a test stopped or broke it: start it again for the next one
        server.restart()
    server.reset()
    return server
