"""What ``tokendesk.client`` exports is a decision: a name added or removed fails here
(as httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import tokendesk.client

EXPECTED = {
    "APIError",
    "AccessToken",
    "AsyncClient",
    "AsyncTokendeskAuth",
    "AuthenticationFailed",
    "BackingOff",
    "Client",
    "Diagnosis",
    "InvalidRequest",
    "NotAuthenticated",
    "NotFound",
    "NotInvited",
    "ProtocolError",
    "ProviderFailed",
    "ReauthenticationRequired",
    "Timeout",
    "TokenType",
    "TokenUnavailable",
    "TokendeskAuth",
    "TokendeskClientError",
    "TokendeskError",
    "TransportError",
    "Unavailable",
    "requires_token",
}


def test_the_exported_names_are_exactly_the_expected_ones() -> None:
    assert set(tokendesk.client.__all__) == EXPECTED
    assert len(tokendesk.client.__all__) == len(EXPECTED)


def test_every_exported_name_exists_and_belongs_to_the_sdk() -> None:
    aliases = {"TokenType"}  # a typing.Literal, which names no module of its own
    for name in set(tokendesk.client.__all__) - aliases:
        module = getattr(tokendesk.client, name).__module__
        assert module.startswith("tokendesk.client."), (name, module)
    assert tokendesk.client.TokenType.__args__ == ("shared", "user")
