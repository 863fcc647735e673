"""The facts a refusal is diagnosed from, as the refresh path gathers them: the provider's
words matched against its catalog entry's documented phrases and lifetimes, and the
fingerprint that tells a refresh token sent twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokendesk.catalog import load_catalog
from tokendesk.domain.connections import Connection, ConnectionStatus, GrantType
from tokendesk.domain.diagnosis import RefusalCause
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenStatus
from tokendesk.errors import InvalidClient, InvalidGrant, ProviderTimeout, ProviderUnavailable
from tokendesk.storage.tokens import TokenRecord
from tokendesk.tokens.refusals import answer_may_be_lost, fingerprint, refusal_diagnosis

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CATALOG = load_catalog()


def connection(provider: str) -> Connection:
    return Connection(
        id="c1", name="Drive", description="", provider=provider,
        grant_type=GrantType.AUTHORIZATION_CODE, client_id="desk", has_client_secret=True,
        authorization_url="https://idp.example.test/authorize",
        token_url="https://idp.example.test/token", scopes=(), pkce=True,
        client_auth_method=None, revocation_url=None, placeholders={},
        invited_role_ids=frozenset(), invited_roles=(), version=1, status=ConnectionStatus.OK,
        last_error=None, created_at=NOW, updated_at=NOW, created_by="a", updated_by="a",
    )


def row(consented_days_ago: int, used_days_ago: int) -> TokenRecord:
    consented = NOW - consented_days_ago * DAY
    return TokenRecord(
        id="t1", connection_id="c1", owner_key="", user_id=None, kind=TokenKind.SHARED,
        access_token_ct=None, refresh_token_ct=None, token_type="Bearer", scope="",
        extra_ct=None, issued_at=NOW - used_days_ago * DAY, expires_at=None,
        status=TokenStatus.VALID, last_refresh_at=NOW - used_days_ago * DAY, last_error=None,
        failure_count=0, next_attempt_at=None, lease_owner=None, lease_until=None, version=1,
        created_at=consented, updated_at=NOW, consented_at=consented,
        refresh_issued_at=consented,
    )


def refused(words: str) -> InvalidGrant:
    return InvalidGrant(f"invalid_grant: refused. The provider said: {words}",
                        oauth_error="invalid_grant", description=words)


def diagnosis_of(provider: str, exc: InvalidGrant | InvalidClient, consented: int, used: int,
                 ) -> tuple[RefusalCause, str]:
    found = refusal_diagnosis(row(consented, used), connection(provider),
                              CATALOG.get(provider), exc, resent=False, now=NOW)
    assert found is not None
    return found.cause, found.reason


def test_googles_documented_words_are_recognised_from_its_catalog_entry() -> None:
    cause, reason = diagnosis_of("google_workspace",
                                 refused("Token has been expired or revoked."), 30, 1)

    assert cause is RefusalCause.EXPIRED_OR_REVOKED
    assert 'Google Workspace said: "Token has been expired or revoked."' in reason


def test_salesforce_and_atlassian_words_name_their_causes() -> None:
    assert diagnosis_of("salesforce", refused("expired access/refresh token"), 30, 1)[0] is (
        RefusalCause.EXPIRED_OR_REVOKED)
    assert diagnosis_of("salesforce", refused("inactive user"), 30, 1)[0] is (
        RefusalCause.USER_INACTIVE)
    assert diagnosis_of("jira", refused("Unknown or invalid refresh token."), 30, 1)[0] is (
        RefusalCause.UNKNOWN_TOKEN)


def test_the_catalogs_lifetimes_explain_a_refusal_before_the_words_do() -> None:
    unused = diagnosis_of("jira", refused("Unknown or invalid refresh token."), 120, 95)
    testing = diagnosis_of("google_workspace", refused("Token has been expired or revoked."),
                           8, 0)

    assert unused[0] is RefusalCause.UNUSED and "90 days" in unused[1]
    assert testing[0] is RefusalCause.TESTING_APP


def test_only_invalid_grant_and_invalid_client_are_diagnosed() -> None:
    other = refusal_diagnosis(row(1, 1), connection("custom"), CATALOG.get("custom"),
                              ProviderUnavailable("HTTP 503"), resent=False, now=NOW)
    client = refusal_diagnosis(row(1, 1), connection("custom"), CATALOG.get("custom"),
                               InvalidClient("no", oauth_error="invalid_client"),
                               resent=False, now=NOW)

    assert other is None
    assert client is not None and client.cause is RefusalCause.SECRET_REFUSED


def test_a_fingerprint_tells_the_same_refresh_token_and_never_shows_it() -> None:
    token = Secret("rt-0123456789")

    assert fingerprint(token) == fingerprint(Secret("rt-0123456789"))
    assert fingerprint(token) != fingerprint(Secret("rt-other"))
    assert "rt-0123456789" not in (fingerprint(token) or "")
    assert fingerprint(None) is None


def test_only_a_lost_answer_may_have_used_the_refresh_token() -> None:
    assert answer_may_be_lost(ProviderTimeout("no answer in time"))
    assert not answer_may_be_lost(ProviderUnavailable("HTTP 503"))
    assert not answer_may_be_lost(refused("nope"))
