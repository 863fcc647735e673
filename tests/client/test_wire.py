"""The token's wire format: one definition, which the server writes and the SDK reads."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from tokendesk.client import AccessToken
from tokendesk.client.wire import TokenWire

WIRE = TokenWire(
    access_token="at-secret-value",
    token_type="Bearer",
    expires_at=datetime(2026, 12, 5, 21, 0, tzinfo=UTC),
    scope="api refresh_token",
    connection="Salesforce prod",
    kind="shared",
    provider_fields={"instance_url": "https://acme.my.salesforce.com"},
)


def names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def test_a_token_comes_back_as_it_was_sent() -> None:
    assert TokenWire.from_json(json.loads(WIRE.to_json())) == WIRE


def test_the_json_carries_every_field_in_order_and_the_expiry_in_iso_8601() -> None:
    doc = json.loads(WIRE.to_json())

    assert list(doc) == names(TokenWire)
    assert doc["expires_at"] == "2026-12-05T21:00:00+00:00"


def test_an_unknown_expiry_travels_as_null() -> None:
    unknown = TokenWire(**{**{n: getattr(WIRE, n) for n in names(TokenWire)},
                           "expires_at": None})

    assert json.loads(unknown.to_json())["expires_at"] is None
    assert TokenWire.from_json(json.loads(unknown.to_json())) == unknown


def test_the_token_never_shows_in_repr() -> None:
    assert "at-secret-value" not in repr(WIRE)
    assert "Salesforce prod" in repr(WIRE)


def test_the_sdk_s_access_token_is_the_wire_format_field_by_field() -> None:
    token = AccessToken.from_json(json.loads(WIRE.to_json()))

    assert isinstance(token, AccessToken) and isinstance(token, TokenWire)
    assert names(AccessToken) == names(TokenWire)
    assert token.authorization == "Bearer at-secret-value"
    assert "at-secret-value" not in repr(token)


def test_fields_an_older_server_leaves_out_take_defaults() -> None:
    token = TokenWire.from_json({"access_token": "at"})

    assert (token.token_type, token.expires_at, token.scope, token.provider_fields) == (
        "Bearer", None, "", {})


def test_an_answer_without_a_token_is_refused() -> None:
    with pytest.raises(KeyError):
        TokenWire.from_json({"token_type": "Bearer"})
