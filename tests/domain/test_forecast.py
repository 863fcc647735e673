"""Forecasts: when a token needs consent again and when a client credential runs out, each
with where the date comes from; computed from facts with a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from support.client_keys import NOT_AFTER, key_pair
from tokendesk.domain.connections import Connection, ConnectionStatus, GrantType
from tokendesk.domain.forecast import (
    DocumentedLifetimes,
    ForecastKind,
    ForecastSource,
    connection_forecasts,
    earliest,
    token_forecasts,
    within,
)
from tokendesk.domain.tokens import StoredToken, TokenKind, TokenStatus, refresh_expiry_from

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CONSENTED = NOW - timedelta(days=300)
LAST_REFRESH = NOW - timedelta(days=80)
ATLASSIAN = DocumentedLifetimes(
    documented_by="Atlassian",
    source_url="https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/",
    absolute_days=365, inactivity_days=90,
)


def connection(**changes: object) -> Connection:
    made = Connection(
        id="c1", name="Jira", description="", provider="jira",
        grant_type=GrantType.AUTHORIZATION_CODE, client_id="desk", has_client_secret=True,
        authorization_url="https://idp.example.test/authorize",
        token_url="https://idp.example.test/token", scopes=(), pkce=True,
        client_auth_method=None, revocation_url=None, placeholders={},
        invited_role_ids=frozenset(), invited_roles=(), version=1, status=ConnectionStatus.OK,
        last_error=None, created_at=CONSENTED, updated_at=CONSENTED, created_by="admin",
        updated_by="admin",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def token(**changes: object) -> StoredToken:
    made = StoredToken(
        id="t1", connection_id="c1", kind=TokenKind.SHARED, user_id=None,
        status=TokenStatus.VALID, token_type="Bearer", scope="", issued_at=LAST_REFRESH,
        expires_at=LAST_REFRESH + timedelta(hours=1), last_refresh_at=LAST_REFRESH,
        last_error=None, has_refresh_token=True, failure_count=0, next_attempt_at=None,
        version=3, created_at=CONSENTED - timedelta(days=30),
        updated_at=LAST_REFRESH, consented_at=CONSENTED,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_atlassian_documents_90_days_unused_counted_from_the_last_refresh() -> None:
    found = token_forecasts(token(), connection(), ATLASSIAN)

    first = found[0]
    assert first.kind is ForecastKind.CONSENT_NEEDED
    assert first.due_at == LAST_REFRESH + timedelta(days=90)
    assert first.source is ForecastSource.DOCUMENTED_INACTIVITY
    assert first.source_words == "Atlassian documents 90 days unused"
    assert first.source_url == ATLASSIAN.source_url
    assert first.words == "Consent needed by 2026-12-15 (Atlassian documents 90 days unused)."


def test_the_absolute_lifetime_counts_from_the_consent_not_from_the_last_refresh() -> None:
    used_yesterday = token(last_refresh_at=NOW - timedelta(days=1))

    found = earliest(token_forecasts(used_yesterday, connection(), ATLASSIAN))

    assert found is not None
    assert found.source is ForecastSource.DOCUMENTED_ABSOLUTE
    assert found.due_at == CONSENTED + timedelta(days=365)
    assert found.source_words == "Atlassian documents 365 days after consent"


def test_a_token_stored_before_consent_times_were_kept_counts_from_when_it_was_stored() -> None:
    older = token(consented_at=None, last_refresh_at=NOW)

    found = earliest(token_forecasts(older, connection(), ATLASSIAN))

    assert found is not None
    assert found.due_at == older.created_at + timedelta(days=365)


def test_what_the_provider_said_comes_first_when_it_is_earliest() -> None:
    said = NOW + timedelta(days=3)

    found = token_forecasts(token(refresh_expires_at=said), connection(), ATLASSIAN)

    assert found[0].source is ForecastSource.PROVIDER_SAID
    assert found[0].source_words == "the provider said"
    assert found[0].due_at == said
    assert [f.due_at for f in found] == sorted(f.due_at for f in found)


def test_without_documented_lifetimes_only_the_provider_can_forecast() -> None:
    assert token_forecasts(token(), connection(), None) == []
    said = token_forecasts(token(refresh_expires_at=NOW), connection(), None)
    assert [f.source for f in said] == [ForecastSource.PROVIDER_SAID]


def test_tokens_that_cannot_be_refreshed_have_no_consent_forecast() -> None:
    credentials = connection(grant_type=GrantType.CLIENT_CREDENTIALS)

    assert token_forecasts(token(), credentials, ATLASSIAN) == []
    assert token_forecasts(token(has_refresh_token=False), connection(), ATLASSIAN) == []
    refused = token(status=TokenStatus.NEEDS_REAUTHENTICATION)
    assert token_forecasts(refused, connection(), ATLASSIAN) == []


def test_the_secret_expiry_an_administrator_entered_is_a_forecast_from_that_day() -> None:
    found = connection_forecasts(connection(client_secret_expires_on=date(2026, 12, 20)))

    assert len(found) == 1
    assert found[0].kind is ForecastKind.SECRET_EXPIRES
    assert found[0].due_at == datetime(2026, 12, 20, tzinfo=UTC)
    assert found[0].source is ForecastSource.ADMINISTRATOR
    assert found[0].words == "Client secret expires on 2026-12-20 (entered by an administrator)."


def test_a_date_without_a_stored_secret_forecasts_nothing() -> None:
    keyless = connection(client_secret_expires_on=date(2026, 12, 20), has_client_secret=False)

    assert connection_forecasts(keyless) == []


def test_the_certificate_expiry_is_read_from_the_certificate() -> None:
    signing = connection(has_client_secret=False, has_client_key=True,
                         client_certificate=key_pair().certificate_pem)

    found = connection_forecasts(signing)

    assert [(f.kind, f.due_at, f.source_words) for f in found] == [
        (ForecastKind.CERTIFICATE_EXPIRES, NOT_AFTER, "read from the certificate")
    ]


def test_a_forecast_is_within_the_horizon_when_due_before_its_end_or_already_due() -> None:
    found = connection_forecasts(connection(client_secret_expires_on=date(2026, 12, 20)))[0]

    assert within(found, NOW, timedelta(days=15))
    assert not within(found, NOW, timedelta(days=14))
    assert within(found, NOW + timedelta(days=30), timedelta(days=0))


def test_the_refresh_token_lifetime_the_provider_said_is_read_from_its_answer() -> None:
    assert refresh_expiry_from(NOW, {"refresh_token_expires_in": 86400}) == NOW + timedelta(days=1)
    assert refresh_expiry_from(NOW, {"refresh_expires_in": "1800"}) == NOW + timedelta(minutes=30)
    assert refresh_expiry_from(NOW, {"x_refresh_token_expires_in": 60}) == (
        NOW + timedelta(minutes=1))
    assert refresh_expiry_from(NOW, {"refresh_expires_in": 0}) is None  # Keycloak: no limit
    assert refresh_expiry_from(NOW, {"expires_in": 3600}) is None
    assert refresh_expiry_from(NOW, {"refresh_token_expires_in": 5000}, "ms") == (
        NOW + timedelta(seconds=5))
