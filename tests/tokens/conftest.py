"""Fixtures of the token lifecycle tests: a Tokendesk on a real migrated database (see
tests/conftest.py ``database_url``), a fake provider at the transport level, a hand-moved
clock, a connection inviting the role ``Bots`` and a bot of that role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_support import (
    FakeProvider,
    ManualClock,
    create_connection,
    create_invited_role,
    desk_settings,
    open_desk,
    principal,
)

from tokendesk.config import Settings
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.wiring import Tokendesk


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return desk_settings(database_url, tmp_path / "data")


@pytest.fixture
def td(settings: Settings, clock: ManualClock, provider: FakeProvider) -> Iterator[Tokendesk]:
    desk = open_desk(settings, clock, provider)
    create_invited_role(desk)
    yield desk
    desk.close()


@pytest.fixture
def connection(td: Tokendesk) -> Connection:
    return create_connection(td)


@pytest.fixture
def bot(td: Tokendesk) -> Principal:
    return principal(td, "ledger-bot")
