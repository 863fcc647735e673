"""What a refresh keeps of the facts the forecasts count from: the consent time stays, the
refresh token's last use moves, and what the provider said of the refresh token's lifetime
stays with the token it was said of. A real database through the migrations; the provider is
a stand-in behind ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.api import connection_body, keyring_spec
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import StoredToken, TokenKind, TokenSet
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tokens import TokenRepository
from tokendesk.wiring import Tokendesk, build

CONSENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SAID = CONSENT + timedelta(days=90)


class Provider:
    """Answers every token request with ``answer`` added to a fresh access token."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "at-new", "token_type": "Bearer",
                                         "expires_in": 3600, **self.answer})


class Clock:
    now = CONSENT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def td(database_url: str, tmp_path: Path, provider: Provider, clock: Clock
       ) -> Iterator[Tokendesk]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        public_url="https://tokendesk.example.test", background_refresh=False,
                        encryption_keys=keyring_spec(KeyRing.generate()))  # type: ignore[arg-type]
    app = build(settings, outbound=Outbound(transport=httpx.MockTransport(provider)), clock=clock)
    yield app
    app.close()


def consent_then_refresh(td: Tokendesk, clock: Clock) -> StoredToken:
    """Store a token as a consent does (with the provider's word on its refresh token), then
    refresh it 30 days later; returns the token as stored after."""
    actor = command_line_principal()
    with td.transaction() as tx:
        td.connections.create(tx, actor, ConnectionCreate.model_validate(connection_body()))
        connection = td.connections.get(tx, actor, "Salesforce prod")
        stored = td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-old"), "Bearer", CONSENT + timedelta(hours=1), Secret("rt-1"),
            refresh_expires_at=SAID))
    clock.now = CONSENT + timedelta(days=30)
    td.refresher.refresh(stored.id, seen_version=stored.version)
    with td.transaction() as tx:
        (after,) = TokenRepository(tx).list_all()
    return after


def test_a_consent_records_when_it_was_given_and_a_refresh_keeps_it(
    td: Tokendesk, clock: Clock
) -> None:
    after = consent_then_refresh(td, clock)

    assert after.consented_at == CONSENT
    assert after.last_refresh_at == CONSENT + timedelta(days=30)


def test_the_lifetime_the_provider_said_stays_while_the_refresh_token_stays(
    td: Tokendesk, clock: Clock
) -> None:
    assert consent_then_refresh(td, clock).refresh_expires_at == SAID


def test_a_new_refresh_token_brings_its_own_lifetime_or_none(
    td: Tokendesk, clock: Clock, provider: Provider
) -> None:
    provider.answer = {"refresh_token": "rt-2"}

    assert consent_then_refresh(td, clock).refresh_expires_at is None


def test_a_new_refresh_token_with_a_lifetime_replaces_the_old_lifetime(
    td: Tokendesk, clock: Clock, provider: Provider
) -> None:
    provider.answer = {"refresh_token": "rt-2", "refresh_token_expires_in": 86400}

    after = consent_then_refresh(td, clock)

    assert after.refresh_expires_at == CONSENT + timedelta(days=31)
