"""A Tokendesk on a real migrated database (SQLite and PostgreSQL), whose provider is the fake
token endpoint of the lifecycle tests and whose clock the test moves, with a webhook receiver
on 127.0.0.1 that verifies signatures with the Standard Webhooks library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notification_support import open_replica

from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.domain.connections import Connection
from tokendesk.wiring import Tokendesk
from tokens.lifecycle_support import (
    FakeProvider,
    ManualClock,
    create_connection,
    create_invited_role,
    desk_settings,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return desk_settings(
        database_url, tmp_path / "data",
        allow_http_loopback=True,  # the receiver is plain http on 127.0.0.1
        egress_allowlist="127.0.0.1",
        webhook_timeout_s=5.0,
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
