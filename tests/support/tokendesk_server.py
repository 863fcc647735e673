"""Tokendesk served for real by uvicorn on 127.0.0.1, in a thread of the test process.

End-to-end tests use it so that one browser-like ``httpx.Client`` carries cookies between
Tokendesk and the authorization server, as a real browser does.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from support.api import ADMIN_PASSWORD, keyring_spec
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.outbound import Outbound
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build, ensure_first_administrator

STARTUP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Clock:
    """The one thing tests mock: time, moved forward by hand."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class TokendeskServer:
    """A running Tokendesk: ``url``, ``td`` (its services), ``api(key)`` for REST calls."""

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        *,
        clock: Callable[[], datetime],
        keyring_file: bool = False,
        egress_allowlist: str = "127.0.0.1",
        outbound: Outbound | None = None,
        first_administrator: bool = False,
        **settings: Any,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            database_url=database_url,
            data_dir=data_dir,
            public_url=self.url,
            host="127.0.0.1",
            port=self.port,
            allow_http_loopback=True,
            egress_allowlist=egress_allowlist,
            encryption_keys=None if keyring_file else keyring_spec(KeyRing.generate()),
            **settings,
        )
        # ``outbound``: how Tokendesk reaches providers, when a test must route a host the
        # catalog names (a provider emulator's) itself; default: the production Outbound.
        self.td: Tokendesk = build(self.settings, clock=clock, passwords=CHEAP_PASSWORDS,
                                   outbound=outbound)
        # first_administrator: "admin" as a first start makes him, with a generated password
        # in the file ``initial_password_file``; else with ADMIN_PASSWORD.
        self.initial_password_file = ensure_first_administrator(self.td) if first_administrator \
            else None
        if not first_administrator:
            with self.td.transaction() as tx:
                self.td.accounts.bootstrap_admin(tx, command_line_principal(), "admin",
                                                 ADMIN_PASSWORD)
        config = uvicorn.Config(
            create_app(self.td),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def callback_url(self) -> str:
        return self.settings.callback_url

    def start(self) -> TokendeskServer:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("Tokendesk did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.td.close()

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v1",
            trust_env=False,
            timeout=60,
            headers={"Authorization": f"Bearer {key}"},
        )
