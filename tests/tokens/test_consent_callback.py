"""Completing a consent (RFC 6749 §4.1, RFC 7636 PKCE): the provider's redirect with a valid
state stores the token set for the user and connection that started the flow; a wrong,
replayed, expired or foreign state is refused before any call to the token endpoint."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from lifecycle_support import (
    CONNECTION,
    FakeProvider,
    ManualClock,
    principal,
    refreshed,
    secrets_of,
    sqlite_only,
)

from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import AuthorizationRejected
from tokendesk.oauth.client import s256_code_challenge
from tokendesk.storage.tokens import TokenRecord, TokenRepository
from tokendesk.tokens.consent_flow import STATE_LIFETIME_S, CallbackOutcome, Purpose, StartedFlow
from tokendesk.wiring import Tokendesk

pytestmark = sqlite_only

CALLBACK_URL = "https://tokendesk.example.test/oauth/callback"


def start(td: Tokendesk, actor: Principal, purpose: Purpose = Purpose.USER) -> StartedFlow:
    with td.transaction() as tx:
        return td.consent.start(tx, actor, CONNECTION, purpose)


def query(flow: StartedFlow) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(flow.provider_url).query).items()}


def complete(td: Tokendesk, flow: StartedFlow, actor: Principal, *, state: str | None = None,
             code: str = "code-1") -> CallbackOutcome:
    # The answer comes back to the redirect URI the flow sent: the connection's own callback.
    own_callback = query(flow)["redirect_uri"]
    return td.consent.complete(
        {"state": query(flow)["state"] if state is None else state, "code": code},
        browser_binding=flow.browser_binding,
        session_user_id=actor.user_id,
        connection_id=own_callback.removeprefix(CALLBACK_URL + "/") or None,
    )


def stored(td: Tokendesk, connection: Connection, kind: TokenKind,
           user_id: str | None) -> TokenRecord | None:
    with td.transaction(read_only=True) as tx:
        return TokenRepository(tx).find(connection.id, kind, user_id)


def test_a_consent_stores_the_user_specific_token_of_the_user_who_gave_it(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    other = principal(td, "other-user")
    provider.token.answer(refreshed("rt-consent", access_token="at-consent"))
    flow = start(td, bot)

    outcome = complete(td, flow, bot)

    row = stored(td, connection, TokenKind.USER, bot.user_id)
    assert outcome.ok and outcome.purpose is Purpose.USER
    assert row is not None and secrets_of(td, row) == ("at-consent", "rt-consent")
    assert stored(td, connection, TokenKind.USER, other.user_id) is None
    assert stored(td, connection, TokenKind.SHARED, None) is None
    assert provider.token.form()["grant_type"] == "authorization_code"
    assert provider.token.form()["code"] == "code-1"
    # RFC 6749 §4.1.3: the same redirect URI as the authorization request, the connection's own.
    assert provider.token.form()["redirect_uri"] == f"{CALLBACK_URL}/{connection.id}"


def test_save_login_credentials_stores_the_shared_token(
    td: Tokendesk, connection: Connection, provider: FakeProvider
) -> None:
    admin = principal(td, "desk-admin", roles=("Administrator",))
    provider.token.answer(refreshed("rt-shared", access_token="at-shared"))
    flow = start(td, admin, Purpose.SHARED)

    complete(td, flow, admin)

    row = stored(td, connection, TokenKind.SHARED, None)
    assert row is not None and secrets_of(td, row) == ("at-shared", "rt-shared")


def test_the_pkce_verifier_is_sent_with_the_code_and_matches_the_challenge(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    flow = start(td, bot)
    sent = query(flow)

    complete(td, flow, bot)

    verifier = provider.token.form()["code_verifier"]
    assert sent["code_challenge_method"] == "S256"
    assert sent["code_challenge"] == s256_code_challenge(verifier)
    assert verifier not in flow.provider_url


def test_a_wrong_state_is_refused_without_calling_the_token_endpoint(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    flow = start(td, bot)

    with pytest.raises(AuthorizationRejected):
        complete(td, flow, bot, state="forged-" + query(flow)["state"])

    assert provider.token.requests == []
    assert stored(td, connection, TokenKind.USER, bot.user_id) is None


def test_a_replayed_state_is_refused_and_the_code_is_exchanged_once(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    flow = start(td, bot)
    complete(td, flow, bot)

    with pytest.raises(AuthorizationRejected) as replayed:
        complete(td, flow, bot, code="code-2")

    assert "already completed" in replayed.value.message
    assert len(provider.token.requests) == 1


def test_an_expired_state_is_refused(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider,
    clock: ManualClock,
) -> None:
    flow = start(td, bot)
    clock.advance(STATE_LIFETIME_S)

    with pytest.raises(AuthorizationRejected):
        complete(td, flow, bot)

    assert provider.token.requests == []


def test_a_state_completed_in_another_browser_or_by_another_user_is_refused(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    other = principal(td, "other-user")
    flow = start(td, bot)
    state = query(flow)["state"]

    with pytest.raises(AuthorizationRejected):
        td.consent.complete({"state": state, "code": "c"}, browser_binding="x" * 43,
                            session_user_id=bot.user_id)
    with pytest.raises(AuthorizationRejected):
        complete(td, flow, other)

    assert provider.token.requests == []
