"""A Tokendesk on a real migrated database (SQLite and PostgreSQL), whose provider is the fake
token endpoint of the lifecycle tests and whose clock the test moves, with a webhook receiver
on 127.0.0.1 that verifies signatures with the Standard Webhooks library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from support.api import keyring_spec
from support.passwords import CHEAP_PASSWORDS
from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import Connection
from tokendesk.domain.events import EventKind
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import WebhookCreate
from tokendesk.wiring import Tokendesk, build
from tokens.lifecycle_support import (
    FakeProvider,
    ManualClock,
    create_connection,
    create_invited_role,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        public_url="https://tokendesk.example.test",
        encryption_keys=SecretStr(keyring_spec(KeyRing.generate())),
        allow_http_loopback=True,  # the receiver is plain http on 127.0.0.1
        egress_allowlist="127.0.0.1",
        webhook_timeout_s=5.0,
    )


def open_replica(settings: Settings, clock: ManualClock, provider: FakeProvider) -> Tokendesk:
    """A Tokendesk as ``build`` wires it; providers are the fake endpoint, webhook receivers
    are called for real (through the egress policy: 127.0.0.1 is allowlisted)."""
    return build(
        settings,
        clock=clock,
        outbound=Outbound(transport=httpx.MockTransport(provider)),
        passwords=CHEAP_PASSWORDS,
    )


@pytest.fixture
def td(settings: Settings, clock: ManualClock, provider: FakeProvider) -> Iterator[Tokendesk]:
    desk = open_replica(settings, clock, provider)
    create_invited_role(desk)
    yield desk
    desk.close()


@pytest.fixture
def connection(td: Tokendesk) -> Connection:
    return create_connection(td)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def subscribe(td: Tokendesk, receiver: WebhookReceiver, events: list[EventKind] | None = None
              ) -> str:
    """Register ``receiver`` for ``events`` (all by default); returns the webhook's id."""
    body = WebhookCreate(url=receiver.url, events=[e.value for e in events or list(EventKind)])
    with td.transaction() as tx:
        created = td.webhooks.create(tx, command_line_principal(), body)
    receiver.secret = created.secret.reveal()
    return created.webhook.id
