"""Helpers of the token lifecycle tests: a Tokendesk wired the way ``build`` wires it, on a
real migrated database, whose provider is the fake token endpoint of the OAuth tests behind
an ``httpx.MockTransport``, and whose clock the test moves by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, event

from oauth.oauth_fakes import NOW, REVOCATION_URL, TOKEN_URL, FakeTokenEndpoint, token_json
from support.api import CLIENT_SECRET, keyring_spec, make_user
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal, command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import ConnectionCreate, RoleCreate
from tokendesk.storage.tokens import TokenRecord, TokenRepository
from tokendesk.wiring import Tokendesk, build

AUTHORIZATION_URL = "https://login.example.com/oauth2/authorize"
CONNECTION = "Ledger"
INVITED_ROLE = "Bots"
WAIT_S = 10.0

# Most lifecycle tests need one database; the concurrency tests run on both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class ManualClock:
    """The desk's clock: it only moves when a test moves it."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)

    def move_to(self, moment: datetime) -> None:
        with self._lock:
            self.now = moment


@dataclass
class FakeProvider:
    """One authorization server at the transport level: its token endpoint and revocation
    endpoint are fake endpoints of the OAuth tests; it publishes no metadata (404)."""

    token: FakeTokenEndpoint = field(default_factory=FakeTokenEndpoint)
    revocation: FakeTokenEndpoint = field(
        default_factory=lambda: FakeTokenEndpoint([httpx.Response(200)])
    )
    others: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        if request.method == "POST" and url == TOKEN_URL:
            return self.token(request)
        if request.method == "POST" and url == REVOCATION_URL:
            return self.revocation(request)
        self.others.append(request)
        return httpx.Response(404)

    def revoked(self) -> list[tuple[str, str]]:
        """The (token, type hint) pairs the revocation endpoint was asked to revoke."""
        forms = [self.revocation.form(i) for i in range(len(self.revocation.requests))]
        return [(form["token"], form["token_type_hint"]) for form in forms]


def refreshed(refresh_token: str | None = None, access_token: str = "at-2",
              expires_in: int = 3600) -> httpx.Response:
    """A token endpoint's answer to a refresh, with a rotated refresh token when given."""
    return token_json(access_token=access_token, refresh_token=refresh_token,
                      expires_in=expires_in)


def desk_settings(database_url: str, data_dir: Path, **more: Any) -> Settings:
    """The settings of a test desk with a fresh key ring; ``more`` adds or replaces some."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        public_url="https://tokendesk.example.test",
        encryption_keys=SecretStr(keyring_spec(KeyRing.generate())),
        **more,
    )


def open_desk(settings: Settings, clock: ManualClock, provider: FakeProvider) -> Tokendesk:
    """A Tokendesk as ``build`` wires it, whose outbound calls reach ``provider``."""
    return build(
        settings,
        clock=clock,
        outbound=Outbound(transport=httpx.MockTransport(provider)),
        passwords=CHEAP_PASSWORDS,
    )


def create_connection(td: Tokendesk, **changes: Any) -> Connection:
    """A custom authorization-code connection inviting the role ``Bots``."""
    body: dict[str, Any] = {
        "name": CONNECTION,
        "provider": "custom",
        "grant_type": "authorization_code",
        "client_id": "ledger-client",
        "client_secret": CLIENT_SECRET,
        "authorization_url": AUTHORIZATION_URL,
        "token_url": TOKEN_URL,
        "revocation_url": REVOCATION_URL,
        "scopes": "ledger.read,offline_access",
        "invited_roles": [INVITED_ROLE],
    }
    body.update(changes)
    with td.transaction() as tx:
        return td.connections.create(tx, command_line_principal(), ConnectionCreate(**body))


def create_invited_role(td: Tokendesk) -> None:
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name=INVITED_ROLE))


def principal(
    td: Tokendesk, username: str, *, roles: Sequence[str] = (INVITED_ROLE,),
    permissions: Sequence[str] = (),
) -> Principal:
    """A new user of ``roles`` (and of a role of its own holding ``permissions``), as its
    API key authenticates it."""
    key = make_user(td, username, roles=roles, permissions=permissions)
    with td.transaction() as tx:
        return td.auth.authenticate_api_key(tx, key)


def store_token(
    td: Tokendesk,
    connection: Connection,
    *,
    kind: TokenKind = TokenKind.SHARED,
    user_id: str | None = None,
    access_token: str = "at-1",
    refresh_token: str | None = "rt-1",
    lifetime_s: float = 3600,
) -> TokenRecord:
    """Store a token set as a consent would, issued now and valid ``lifetime_s``."""
    tokens = TokenSet(
        Secret(access_token),
        "Bearer",
        td.clock() + timedelta(seconds=lifetime_s),
        Secret(refresh_token) if refresh_token is not None else None,
    )
    with td.transaction() as tx:
        stored = td.tokens.store(tx, connection, kind, user_id, tokens)
    return token_row(td, stored.id)


def token_row(td: Tokendesk, token_id: str) -> TokenRecord:
    with td.transaction(read_only=True) as tx:
        row = TokenRepository(tx).get(token_id)
    assert row is not None, "the token is gone"
    return row


def secrets_of(td: Tokendesk, row: TokenRecord) -> tuple[str, str | None]:
    """The stored access and refresh token of ``row``, decrypted."""
    access = td.tokens.vault.access_token(row).reveal()
    refresh = td.tokens.vault.refresh_token(row)
    return access, refresh.reveal() if refresh is not None else None


def wait_until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for something another thread does."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@contextmanager
def lease_attempts(engine: Engine) -> Iterator[list[str]]:
    """The refresh-lease updates sent on ``engine`` inside the block (one entry each)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE TOKENS SET LEASE_OWNER"):
            seen.append(statement)

    event.listen(engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", record)


class Gate:
    """Holds the provider's answers back until the test opens it (bounded)."""

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.opened = threading.Event()

    def __call__(self, _request: httpx.Request) -> httpx.Response:
        assert self.opened.wait(WAIT_S), "the gate was never opened"
        return self.answer

    def open(self) -> None:
        self.opened.set()
