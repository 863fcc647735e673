"""When the SDK exchanges a workload token again: shortly before the connection's token
expires, half-way through a short-lived one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokendesk.client import AccessToken
from tokendesk.client.workload import RENEW_MARGIN_S, renew_at

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def token(expires_in_s: float | None) -> AccessToken:
    expires = NOW + timedelta(seconds=expires_in_s) if expires_in_s is not None else None
    return AccessToken(access_token="t", token_type="Bearer", expires_at=expires, scope="",
                       connection="c", kind="shared", provider_fields={})


def test_an_hour_long_token_is_renewed_a_minute_before_it_expires() -> None:
    assert renew_at(token(3600), NOW) == NOW + timedelta(seconds=3600 - RENEW_MARGIN_S)


def test_a_short_lived_token_is_renewed_half_way() -> None:
    assert renew_at(token(60), NOW) == NOW + timedelta(seconds=30)


def test_a_token_without_expiry_is_not_kept() -> None:
    assert renew_at(token(None), NOW) == NOW
