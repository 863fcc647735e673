"""One vocabulary of token states: what a token reads as, why, and the one thing to do,
the same wherever it is shown; and what *Refresh now* may say it did."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tokendesk.domain.connections import Connection, ConnectionStatus, GrantType
from tokendesk.domain.diagnosis import Diagnosis, RefusalCause
from tokendesk.domain.token_states import TokenState, describe, refresh_said
from tokendesk.domain.tokens import StoredToken, TokenKind, TokenStatus

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CODE_FLOW = Connection(
    id="c1", name="Graph", description="", provider="custom",
    grant_type=GrantType.AUTHORIZATION_CODE, client_id="desk", has_client_secret=True,
    authorization_url="https://idp.example.test/authorize",
    token_url="https://idp.example.test/token", scopes=(), pkce=True,
    client_auth_method=None, revocation_url=None, placeholders={},
    invited_role_ids=frozenset(), invited_roles=(), version=1, status=ConnectionStatus.OK,
    last_error=None, created_at=NOW, updated_at=NOW, created_by="admin", updated_by="admin",
)
CLIENT_CREDENTIALS = replace(CODE_FLOW, grant_type=GrantType.CLIENT_CREDENTIALS)
TOKEN = StoredToken(
    id="t1", connection_id="c1", kind=TokenKind.SHARED, user_id=None, status=TokenStatus.VALID,
    token_type="Bearer", scope="", issued_at=NOW - 10 * MINUTE, expires_at=NOW + 50 * MINUTE,
    last_refresh_at=NOW - 10 * MINUTE, last_error=None, has_refresh_token=True,
    failure_count=0, next_attempt_at=None, version=3, created_at=NOW, updated_at=NOW,
)
REFUSED = replace(TOKEN, status=TokenStatus.NEEDS_REAUTHENTICATION,
                  last_error="invalid_grant: refused")


def test_a_fresh_token_is_valid_with_nothing_to_do() -> None:
    words = describe(TOKEN, CODE_FLOW, NOW)

    assert (words.state, words.label) == (TokenState.VALID, "Valid")
    assert words.reason == "It is valid until 12:50 UTC." and words.action == "Nothing to do."


def test_a_token_due_or_expired_without_a_failure_is_refreshing_soon() -> None:
    due = describe(TOKEN, CODE_FLOW, NOW + 48 * MINUTE)
    expired = describe(TOKEN, CODE_FLOW, NOW + 2 * 60 * MINUTE)

    assert due.state is expired.state is TokenState.REFRESHING_SOON
    assert "expired at 12:50 UTC" in expired.reason


def test_a_token_whose_refresh_failed_is_backing_off_until_the_next_attempt_not_expired(
) -> None:
    failing = replace(TOKEN, failure_count=2, next_attempt_at=NOW + 70 * MINUTE,
                      last_error="The authorization server failed (HTTP 503)",
                      expires_at=NOW - MINUTE)

    words = describe(failing, CODE_FLOW, NOW)

    assert words.state is TokenState.BACKING_OFF
    assert words.label == "Backing off until 13:10 UTC" and words.until == NOW + 70 * MINUTE
    assert "HTTP 503" in words.reason and "bots get no token" in words.reason
    assert "Nothing to do if the provider recovers" in words.action
    after = describe(failing, CODE_FLOW, NOW + 71 * MINUTE)
    assert after.state is TokenState.REFRESHING_SOON  # the back-off ran out: tried again


def test_a_refused_refresh_needs_consent_and_says_why_from_its_diagnosis() -> None:
    diagnosis = Diagnosis(RefusalCause.REVOKED, "Most likely revoked at the provider.", "x")
    plain = describe(REFUSED, CODE_FLOW, NOW)
    diagnosed = describe(replace(REFUSED, diagnosis=diagnosis), CODE_FLOW, NOW)
    users = describe(replace(REFUSED, kind=TokenKind.USER, user_id="u1"), CODE_FLOW, NOW)

    assert plain.state is TokenState.NEEDS_CONSENT and plain.label == "Needs consent"
    assert plain.reason == "invalid_grant: refused."
    assert diagnosed.reason == "Most likely revoked at the provider."
    assert "Re-authenticate on the connection's page" in plain.action
    assert "Its user authenticates again" in users.action


def test_a_client_credentials_connection_never_asks_to_authenticate_again() -> None:
    states = [
        describe(REFUSED, CLIENT_CREDENTIALS, NOW),
        describe(replace(TOKEN, status=TokenStatus.CORRUPTED), CLIENT_CREDENTIALS, NOW),
        describe(None, CLIENT_CREDENTIALS, NOW),
        describe(TOKEN, replace(CLIENT_CREDENTIALS, status=ConnectionStatus.MISCONFIGURED,
                                last_error="invalid_client: refused"), NOW),
    ]

    assert [s.state for s in states] == [TokenState.MISCONFIGURED, TokenState.DAMAGED,
                                         TokenState.NOT_CONNECTED, TokenState.MISCONFIGURED]
    for words in states:
        assert "authenticate" not in words.action.casefold(), words


def test_a_misconfigured_connection_reads_misconfigured_for_an_administrator_to_fix() -> None:
    refused = replace(CODE_FLOW, status=ConnectionStatus.MISCONFIGURED,
                      last_error="invalid_client: the client secret was not accepted")

    words = describe(TOKEN, refused, NOW)

    assert words.state is TokenState.MISCONFIGURED
    assert "client secret was not accepted" in words.reason
    assert "An administrator" in words.action


def test_no_token_reads_not_connected_and_says_how_to_connect() -> None:
    words = describe(None, CODE_FLOW, NOW)

    assert (words.state, words.label) == (TokenState.NOT_CONNECTED, "Not connected")
    assert "Authenticate" in words.action


def test_an_expired_token_without_a_refresh_token_needs_consent() -> None:
    spent = replace(TOKEN, has_refresh_token=False)

    assert describe(spent, CODE_FLOW, NOW + 2 * 60 * MINUTE).state is TokenState.NEEDS_CONSENT
    assert describe(spent, CLIENT_CREDENTIALS, NOW + 2 * 60 * MINUTE).state is (
        TokenState.REFRESHING_SOON)


def test_refresh_now_says_refreshed_only_when_a_new_token_set_was_stored() -> None:
    new = replace(TOKEN, issued_at=NOW, expires_at=NOW + 60 * MINUTE, version=4)
    backing_off = replace(TOKEN, failure_count=1, next_attempt_at=NOW + 5 * MINUTE,
                          last_error="HTTP 503")
    just = replace(TOKEN, issued_at=NOW - timedelta(seconds=3))

    def said(before: StoredToken, after: StoredToken) -> tuple[bool, str]:
        return refresh_said(before, after, describe(after, CODE_FLOW, NOW), NOW, interval_s=10)

    assert said(TOKEN, new) == (True, "The token was refreshed; it is valid until 13:00 UTC.")
    refused, message = said(backing_off, backing_off)
    assert not refused and "nothing was sent to the provider" in message
    assert "backing off after a failed refresh until 12:05 UTC" in message
    assert said(just, just)[1].startswith("Not sent: the token was refreshed less than 10")
    assert said(REFUSED, REFUSED) == (False, "Not refreshed. invalid_grant: refused. "
                                              + describe(REFUSED, CODE_FLOW, NOW).action)
