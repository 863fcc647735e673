"""Refusals that cost the provider nothing: forced refreshes are coalesced and limited, a
misconfigured connection is left alone, a lost forced-refresh race gets the winner's token,
and a provider's request-loop error is transient (catalog data).

Real database (SQLite and PostgreSQL, real migrations); the provider is a fake token
endpoint at the transport level; the clock is the test's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_provider_desk import CONNECTION, Desk, RotatingProvider, build_desk

from oauth.oauth_fakes import FakeTokenEndpoint, oauth_error, token_json
from tokendesk.domain.connections import ConnectionStatus
from tokendesk.domain.tokens import TokenKind, TokenStatus
from tokendesk.errors import ConnectionMisconfigured, InvalidClient, ProviderUnavailable

# At most one forced refresh per token in this window (docs/security.md).
FORCED_REFRESH_INTERVAL_S = 10.0


@pytest.fixture
def endpoint() -> FakeTokenEndpoint:
    return FakeTokenEndpoint()


@pytest.fixture
def desk(database_url: str, tmp_path: Path, endpoint: FakeTokenEndpoint) -> Iterator[Desk]:
    built = build_desk(database_url, tmp_path / "data", endpoint)
    yield built
    built.td.close()


def test_thirty_forced_refreshes_by_a_bot_make_one_provider_call(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(token_json(access_token="at-fresh", refresh_token="rt-2"))
    desk.consent()
    desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 1)

    handed = [desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)
              for _ in range(30)]

    assert len(endpoint.requests) == 1
    assert {h.access_token.reveal() for h in handed} == {"at-fresh"}


def test_a_forced_refresh_after_the_window_calls_the_provider_again(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    desk.consent()
    desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)
    desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)
    desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)

    assert len(endpoint.requests) == 2


def test_concurrent_forced_refreshes_coalesce_and_the_losers_get_the_winners_token(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    provider = RotatingProvider()
    endpoint.answer(provider)
    token = desk.consent()
    desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    results: list[str] = []
    errors: list[BaseException] = []

    def force() -> None:
        try:
            handout = desk.td.tokens.handout(
                desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)
            results.append(handout.access_token.reveal())
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=force) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert results == ["at-1"] * 8
    assert provider.presented == ["rt-1"]
    assert desk.row(token.id).status is TokenStatus.VALID


def test_a_forced_refresh_that_lost_the_race_in_another_process_gets_the_winners_token(
    desk: Desk, endpoint: FakeTokenEndpoint, database_url: str, tmp_path: Path
) -> None:
    """Two processes read the token, both force a refresh; the second finds it refreshed by
    the first and answers with that token instead of sending the used refresh token."""
    provider = RotatingProvider()
    endpoint.answer(provider)
    token = desk.consent()
    desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    seen = desk.row(token.id)

    desk.td.refresher.refresh(token.id, seen_version=seen.version, force=True)  # the winner
    # The loser read the row before the winner stored the answer, and forces now.
    after = desk.td.refresher.refresh(token.id, seen_version=seen.version, force=True)

    assert provider.presented == ["rt-1"]
    assert after is not None and after.status is TokenStatus.VALID
    assert desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED).access_token.reveal() \
        == "at-1"


# --- a misconfigured connection ---------------------------------------------------------


def test_after_invalid_client_the_background_refresher_never_calls_the_provider_again(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(oauth_error(401, "invalid_client"))
    # Three tokens of the connection, due one after the other.
    desk.consent(lifetime_s=60)
    desk.consent(lifetime_s=100, user=desk.bot)
    desk.consent(lifetime_s=140, user=desk.admin)

    for _ in range(24):  # 24 sweeps, 5 s apart: two minutes, the tokens long due
        desk.clock.advance(5)
        desk.td.background.sweep()

    assert len(endpoint.requests) == 1
    assert desk.connection().misconfigured


def test_a_bot_forcing_a_refresh_of_a_misconfigured_connection_calls_nobody(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(oauth_error(401, "invalid_client"))
    desk.consent(lifetime_s=3600)
    desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    with pytest.raises(InvalidClient):
        desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True)

    handed = []
    for _ in range(5):
        desk.clock.advance(FORCED_REFRESH_INTERVAL_S + 600)  # past any window and back-off
        handed.append(
            desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED, force_refresh=True))

    assert len(endpoint.requests) == 1
    assert {h.access_token.reveal() for h in handed} == {"at-0"}  # served while it is valid


def test_an_administrator_asking_for_a_refresh_of_a_misconfigured_connection_is_heard(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(oauth_error(401, "invalid_client"), token_json(access_token="at-ok"))
    desk.consent(lifetime_s=60)
    desk.clock.advance(120)
    with pytest.raises(ConnectionMisconfigured):
        desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED)
    desk.clock.advance(600)  # past the back-off of the failure

    desk.td.tokens.refresh_now(desk.admin, CONNECTION, TokenKind.SHARED)

    assert len(endpoint.requests) == 2
    assert not desk.connection().misconfigured
    assert desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED).access_token.reveal() \
        == "at-ok"


# --- transient errors as catalog data ---------------------------------------------------


def request_loop(request: httpx.Request) -> httpx.Response:
    """Microsoft identity platform's answer to a request loop (AADSTS50196)."""
    return httpx.Response(400, json={
        "error": "invalid_grant",
        "error_description": "AADSTS50196: The server terminated an operation because it "
                             "encountered a client request loop.",
        "error_codes": [50196],
    })


def test_a_microsoft_request_loop_error_is_transient_not_a_revocation(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    from support.api import connection_body
    from tokendesk.domain.principal import command_line_principal
    from tokendesk.services.inputs import ConnectionCreate

    endpoint.answer(request_loop, token_json(access_token="at-after-loop"))
    body = connection_body(name="Outlook", provider="microsoft_365_outlook",
                           placeholders={"tenant": "contoso.onmicrosoft.com"},
                           scopes="offline_access", invited_roles=["Sales bots"])
    with desk.td.transaction() as tx:
        desk.td.connections.create(tx, command_line_principal(),
                                   ConnectionCreate.model_validate(body))
    token = desk.consent(lifetime_s=60, name="Outlook")
    desk.clock.advance(120)

    with pytest.raises(ProviderUnavailable):
        desk.td.tokens.handout(desk.bot, "Outlook", TokenKind.SHARED)
    assert desk.row(token.id).status is TokenStatus.VALID  # backing off, not broken
    desk.clock.advance(600)
    handed = desk.td.tokens.handout(desk.bot, "Outlook", TokenKind.SHARED)

    assert handed.access_token.reveal() == "at-after-loop"


def test_the_same_answer_from_a_provider_without_that_quirk_is_a_revocation(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(request_loop)
    token = desk.consent(lifetime_s=60)
    desk.clock.advance(120)

    with pytest.raises(Exception):  # noqa: B017 - whichever error: the state is what matters
        desk.td.tokens.handout(desk.bot, CONNECTION, TokenKind.SHARED)

    assert desk.row(token.id).status is TokenStatus.NEEDS_REAUTHENTICATION


def test_a_connection_marked_misconfigured_meanwhile_is_not_called_nor_waited_for(
    desk: Desk, endpoint: FakeTokenEndpoint
) -> None:
    """The handout read the connection before another request marked it misconfigured: the
    refresh protocol itself declines, at once."""
    token = desk.consent(lifetime_s=60)
    desk.clock.advance(120)
    connection = desk.connection()
    with desk.td.transaction() as tx:
        desk.td.connections.mark_status(
            tx, connection, ConnectionStatus.MISCONFIGURED, "invalid_client")

    after = desk.td.refresher.refresh(token.id, seen_version=token.version, force=True)

    assert endpoint.requests == []
    assert after is not None and after.lease_owner is None
