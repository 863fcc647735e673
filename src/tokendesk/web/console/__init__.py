"""The web console: server-rendered pages for administrators and users.

``install(app)`` adds the console's routes, its static files at ``/static`` and the security
headers middleware to the application built by ``create_app``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from tokendesk.domain.sign_in import parse_trusted_proxies
from tokendesk.web.console import (
    admin,
    api_keys,
    attention,
    audit_log,
    confirmations,
    connection_proxy,
    connections,
    forecasts,
    my_settings,
    network,
    notifications,
    password,
    session,
    wizard,
    workload,
)
from tokendesk.web.console.security import SecurityHeaders
from tokendesk.web.console.store import ConsoleStore
from tokendesk.wiring import Tokendesk

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def favicon() -> FileResponse:
    """The brand mark, from the package: browsers ask every page's origin for it."""
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


def install(app: FastAPI) -> None:
    """Serve the console from ``app`` (whose ``state.tokendesk`` is already set)."""
    td: Tokendesk = app.state.tokendesk
    app.state.console_store = ConsoleStore(td.transaction, td.keyring, td.clock)
    app.state.trusted_proxies = parse_trusted_proxies(td.settings.trusted_proxies)
    # The wizard's routes come before the connection pages: /connections/{name}/edit.
    for module in (session, attention, wizard, confirmations, connections, forecasts,
                   connection_proxy, my_settings, password, admin, api_keys, network,
                   notifications, audit_log, workload):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.add_middleware(SecurityHeaders)
