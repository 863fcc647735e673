"""Handing a connection's access token to a bot or a person: who gets which token, and how
an expired one is refreshed on the way -- or why it cannot be."""

from __future__ import annotations

import httpx
import pytest
from lifecycle_support import (
    CONNECTION,
    INVITED_ROLE,
    FakeProvider,
    ManualClock,
    principal,
    refreshed,
    sqlite_only,
    store_token,
    token_row,
)

from oauth.oauth_fakes import oauth_error
from tokendesk.domain.audit import AuditFilter
from tokendesk.domain.connections import Connection
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import TokenKind, TokenStatus
from tokendesk.errors import (
    ConnectionNotFound,
    NotAuthenticated,
    NotInvited,
    ProviderUnavailable,
    ReauthenticationRequired,
    RefreshBackingOff,
)
from tokendesk.storage.audit import AuditRepository
from tokendesk.wiring import Tokendesk

pytestmark = sqlite_only

LIFETIME_S = 3600
AUTHENTICATE_URL = "https://tokendesk.example.test/connections/Ledger"


def test_an_invited_bot_gets_the_shared_token(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    store_token(td, connection, access_token="at-shared")

    handout = td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert handout.access_token.reveal() == "at-shared"
    assert (handout.connection, handout.kind, handout.token_type) == (
        CONNECTION, TokenKind.SHARED, "Bearer")
    assert provider.token.requests == []  # a fresh token: no provider call


def test_a_user_specific_token_is_handed_to_its_owner_only(
    td: Tokendesk, connection: Connection, bot: Principal
) -> None:
    other = principal(td, "other-bot")
    store_token(td, connection, kind=TokenKind.USER, user_id=bot.user_id, access_token="at-mine")
    store_token(td, connection, access_token="at-shared")

    mine = td.tokens.handout(bot, CONNECTION, TokenKind.USER)
    with pytest.raises(NotAuthenticated) as not_yet:
        td.tokens.handout(other, CONNECTION, TokenKind.USER)

    assert mine.access_token.reveal() == "at-mine"
    assert not_yet.value.authenticate_url == (
        "https://tokendesk.example.test/my/connections/Ledger")


def test_a_principal_whose_role_is_not_invited_is_told_the_connection_does_not_exist(
    td: Tokendesk, connection: Connection
) -> None:
    stranger = principal(td, "stranger", roles=())
    store_token(td, connection)

    with pytest.raises(ConnectionNotFound):
        td.tokens.handout(stranger, CONNECTION, TokenKind.SHARED)


def test_a_viewer_whose_role_is_not_invited_sees_the_connection_but_gets_no_token(
    td: Tokendesk, connection: Connection
) -> None:
    viewer = principal(td, "viewer", roles=(), permissions=[Permission.VIEW_CONNECTIONS.value])
    store_token(td, connection)
    with td.transaction(read_only=True) as tx:
        assert td.connections.get(tx, viewer, CONNECTION).id == connection.id

    with pytest.raises(NotInvited) as refused:
        td.tokens.handout(viewer, CONNECTION, TokenKind.SHARED)

    # He sees the connection, so he is told why he gets no token, and whom it invites.
    assert refused.value.status == 403 and refused.value.code == "not_invited"
    assert refused.value.invited_roles == (INVITED_ROLE,)
    assert INVITED_ROLE in refused.value.message


def test_a_connection_without_a_shared_token_says_how_to_get_one(
    td: Tokendesk, connection: Connection, bot: Principal
) -> None:
    with pytest.raises(NotAuthenticated) as missing:
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert missing.value.authenticate_url == AUTHENTICATE_URL


def test_an_expired_token_is_refreshed_transparently(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider,
    clock: ManualClock,
) -> None:
    store_token(td, connection)
    provider.token.answer(refreshed(access_token="at-2"))
    clock.advance(LIFETIME_S + 60)

    handout = td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert handout.access_token.reveal() == "at-2"
    assert provider.token.form()["refresh_token"] == "rt-1"
    assert handout.expires_at is not None and handout.expires_at > clock()


def test_a_token_the_provider_refuses_to_refresh_gives_the_reauthentication_error(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider,
    clock: ManualClock,
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(oauth_error(400, "invalid_grant", "refresh token expired"))
    clock.advance(LIFETIME_S + 60)

    with pytest.raises(ReauthenticationRequired) as first:
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)
    with pytest.raises(ReauthenticationRequired) as again:
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert first.value.code == "reauthentication_required"
    assert first.value.authenticate_url == AUTHENTICATE_URL
    assert AUTHENTICATE_URL in first.value.message
    assert again.value.authenticate_url == AUTHENTICATE_URL
    assert token_row(td, stored.id).status is TokenStatus.NEEDS_REAUTHENTICATION
    assert len(provider.token.requests) == 1  # the refused grant is not tried again


def test_an_expired_token_without_a_refresh_token_gives_the_reauthentication_error(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider,
    clock: ManualClock,
) -> None:
    store_token(td, connection, refresh_token=None)
    clock.advance(LIFETIME_S + 60)

    with pytest.raises(ReauthenticationRequired) as refused:
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert refused.value.authenticate_url == AUTHENTICATE_URL
    assert "offline_access" in refused.value.message
    assert provider.token.requests == []


def test_a_token_still_valid_is_served_when_its_refresh_fails_for_a_while(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider,
    clock: ManualClock,
) -> None:
    store_token(td, connection, access_token="at-1")
    provider.token.answer(httpx.Response(503))
    clock.advance(LIFETIME_S - 60)  # within the refresh margin, not yet expired

    handout = td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert handout.access_token.reveal() == "at-1"
    assert len(provider.token.requests) == 1


def test_an_expired_token_whose_refresh_failed_backs_off_without_calling_again(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider,
    clock: ManualClock,
) -> None:
    store_token(td, connection)
    provider.token.answer(httpx.Response(503))
    clock.advance(LIFETIME_S + 60)

    with pytest.raises(ProviderUnavailable):
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)
    clock.advance(1)
    with pytest.raises(RefreshBackingOff) as waiting:
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)

    assert waiting.value.retry_after_s == 4.0  # the first back-off is 5 s
    assert "Next attempt in 4 s" in waiting.value.message
    assert len(provider.token.requests) == 1


def test_a_handout_an_invited_caller_does_not_get_is_a_failure_of_the_connection(
    td: Tokendesk, connection: Connection, bot: Principal
) -> None:
    viewer = principal(td, "viewer", roles=(), permissions=[Permission.VIEW_CONNECTIONS.value])
    with pytest.raises(NotAuthenticated):  # invited, but there is no shared token yet
        td.tokens.handout(bot, CONNECTION, TokenKind.SHARED)
    with pytest.raises(NotInvited):
        td.tokens.handout(viewer, CONNECTION, TokenKind.SHARED)
    td.audit_buffer.flush()

    with td.transaction(read_only=True) as tx:
        events = AuditRepository(tx).search(AuditFilter(action="token.handout"))

    assert {(e.actor, e.outcome) for e in events} == {(bot.username, "failure"), ("viewer", "denied")}
    with td.transaction(read_only=True) as tx:
        of_connection = AuditRepository(tx).search(
            AuditFilter(action="token.handout", connection_id=connection.id))
    # the failure shows on the connection's timeline; a refusal is the caller's, not its
    assert [(e.actor, e.outcome) for e in of_connection] == [(bot.username, "failure")]
