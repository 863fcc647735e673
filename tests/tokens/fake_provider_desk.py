"""A Tokendesk on a real, migrated database whose provider is a fake token endpoint at the
transport level (tests/oauth/oauth_fakes.py), with a clock the test moves.

``Desk`` holds what the refresh tests need: a connection invited to a bot's role, a bot
principal, an administrator principal, and a way to store a token set as if consented.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from oauth.oauth_fakes import FakeTokenEndpoint
from support.api import ADMIN_PASSWORD, connection_body, keyring_spec
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal, Via, command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import ConnectionCreate, RoleCreate, UserCreate
from tokendesk.storage.tokens import TokenRecord, TokenRepository
from tokendesk.wiring import Tokendesk, build

START = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
CONNECTION = "Salesforce prod"
ROLE = "Sales bots"


class ManualClock:
    """The desk's clock; only the test moves it (thread-safe)."""

    def __init__(self) -> None:
        self.now = START
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


@dataclass
class Desk:
    td: Tokendesk
    clock: ManualClock
    endpoint: FakeTokenEndpoint
    bot: Principal
    admin: Principal

    def connection(self, name: str = CONNECTION) -> Connection:
        with self.td.transaction() as tx:
            return self.td.connections.get(tx, command_line_principal(), name)

    def add_connection(self, name: str) -> Connection:
        body = connection_body(name=name, invited_roles=[ROLE])
        with self.td.transaction() as tx:
            return self.td.connections.create(
                tx, command_line_principal(), ConnectionCreate.model_validate(body)
            )

    def consent(
        self,
        refresh_token: str = "rt-1",
        *,
        lifetime_s: int = 3600,
        name: str = CONNECTION,
        user: Principal | None = None,
    ) -> TokenRecord:
        """Store a token set as a consent would (access token ``at-0``): the shared token,
        or ``user``'s own."""
        tokens = TokenSet(
            access_token=Secret("at-0"),
            token_type="Bearer",
            expires_at=self.clock() + timedelta(seconds=lifetime_s),
            refresh_token=Secret(refresh_token),
            scope="api",
            extra={},
        )
        connection = self.connection(name)
        with self.td.transaction() as tx:
            kind = TokenKind.SHARED if user is None else TokenKind.USER
            user_id = None if user is None else user.user_id
            stored = self.td.tokens.store(tx, connection, kind, user_id, tokens)
        return self.row(stored.id)

    def row(self, token_id: str) -> TokenRecord:
        with self.td.transaction(read_only=True) as tx:
            found = TokenRepository(tx).get(token_id)
        assert found is not None
        return found

    def stored_refresh_token(self, token_id: str) -> str | None:
        secret = self.td.tokens.vault.refresh_token(self.row(token_id))
        return None if secret is None else secret.reveal()


def build_desk(database_url: str, data_dir: Path, endpoint: FakeTokenEndpoint,
               *, lease_s: float | None = None) -> Desk:
    """A desk with a connection (``CONNECTION``) invited to the role of the user ``bot``."""
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        public_url="https://tokendesk.example.test",
        encryption_keys=keyring_spec(KeyRing.generate()),  # type: ignore[arg-type]
    )
    clock = ManualClock()
    td = build(settings, clock=clock, outbound=Outbound(transport=httpx.MockTransport(endpoint)))
    if lease_s is not None:
        td.refresher.lease_s = lease_s
    actor = command_line_principal()
    with td.transaction() as tx:
        td.accounts.bootstrap_admin(tx, actor, "admin", ADMIN_PASSWORD)
        td.accounts.create_role(tx, actor, RoleCreate(name=ROLE, permissions=[]))
        td.accounts.create_user(tx, actor, UserCreate.model_validate(
            {"username": "bot", "password": ADMIN_PASSWORD, "roles": [ROLE]}))
        td.connections.create(tx, actor, ConnectionCreate.model_validate(
            connection_body(invited_roles=[ROLE])))
        bot = td.auth.principal_for(tx, td.accounts.get_user(tx, "bot"), Via.API_KEY)
        admin = td.auth.principal_for(tx, td.accounts.get_user(tx, "admin"), Via.SESSION)
    return Desk(td, clock, endpoint, bot, admin)


class RotatingProvider:
    """A token endpoint that rotates refresh tokens and refuses a used one (reuse detection,
    RFC 9700 §4.14.2); ``on_answer`` runs after it has issued a new set, before it answers."""

    def __init__(self, first_refresh_token: str = "rt-1") -> None:
        self.valid = first_refresh_token
        self.issued = 0
        self.presented: list[str] = []
        self.on_answer: list[Callable[[], None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        presented = form.get("refresh_token", "")
        self.presented.append(presented)
        if presented != self.valid:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.issued += 1
        self.valid = f"rt-{self.issued + 1}"
        for hook in self.on_answer:
            hook()
        return httpx.Response(200, json={
            "access_token": f"at-{self.issued}", "token_type": "Bearer",
            "expires_in": 3600, "refresh_token": self.valid})
