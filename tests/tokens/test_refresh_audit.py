"""The audit record of a refresh says whether a new refresh token really came: not merely a
field present, nor the same token sent back (the OAuth client keeps the old one when none
comes, RFC 6749 §6). A real database through the migrations; the provider is a stand-in
behind ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from support.api import connection_body, keyring_spec
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tables import audit_events
from tokendesk.wiring import Tokendesk, build

FIRST_REFRESH_TOKEN = "rt-first-0001"


class Provider:
    """Answers every token request with ``answer`` (a JSON document)."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "at-new", "token_type": "Bearer",
                                         "expires_in": 3600, **self.answer})


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def td(database_url: str, tmp_path: Path, provider: Provider) -> Iterator[Tokendesk]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        public_url="https://tokendesk.example.test", background_refresh=False,
                        encryption_keys=keyring_spec(KeyRing.generate()))  # type: ignore[arg-type]
    app = build(settings, outbound=Outbound(transport=httpx.MockTransport(provider)))
    yield app
    app.close()


def refresh_once(td: Tokendesk) -> dict[str, Any]:
    """Store a shared token with FIRST_REFRESH_TOKEN, refresh it, return the audit details."""
    actor = command_line_principal()
    with td.transaction() as tx:
        td.connections.create(tx, actor, ConnectionCreate.model_validate(connection_body()))
        connection = td.connections.get(tx, actor, "Salesforce prod")
        stored = td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-old"), "Bearer", td.clock() - timedelta(seconds=1),
            Secret(FIRST_REFRESH_TOKEN)))
    # Due (it has expired), not forced: a forced refresh right after the token was issued
    # is answered with that token, without a provider call.
    td.refresher.refresh(stored.id, seen_version=stored.version)
    with td.engine.connect() as conn:
        event = conn.execute(select(audit_events).where(
            audit_events.c.action == "token.refresh")).one()
    return dict(event.details)


@pytest.mark.parametrize(
    ("answer", "rotated"),
    [
        ({}, False),  # no refresh_token: the old one is kept
        ({"refresh_token": FIRST_REFRESH_TOKEN}, False),  # the same one sent back
        ({"refresh_token": "rt-second-0002"}, True),
    ],
)
def test_rotated_says_whether_a_new_refresh_token_came(
    td: Tokendesk, provider: Provider, answer: dict[str, Any], rotated: bool
) -> None:
    provider.answer = answer

    details = refresh_once(td)

    assert details["rotated"] is rotated
    assert FIRST_REFRESH_TOKEN not in str(details)
