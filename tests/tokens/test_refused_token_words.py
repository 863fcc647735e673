"""What a bot is told about a token that cannot be handed out, in the grant's own terms: a
client-credentials connection never asks anyone to authenticate again; a refused refresh
carries its diagnosis; a consent records what a later diagnosis needs."""

from __future__ import annotations

import pytest
from lifecycle_support import FakeProvider, ManualClock, create_connection, store_token, token_row

from oauth.oauth_fakes import oauth_error
from tokendesk.domain.diagnosis import RefusalCause
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import TokenKind, TokenStatus
from tokendesk.errors import ReauthenticationRequired, TokenCorrupted
from tokendesk.storage.tokens import TokenChange, TokenRepository
from tokendesk.wiring import Tokendesk


def test_a_damaged_client_credentials_token_says_disconnect_not_authenticate(
    td: Tokendesk, bot: Principal
) -> None:
    connection = create_connection(td, grant_type="client_credentials",
                                   authorization_url=None, scopes="ledger.read")
    stored = store_token(td, connection, refresh_token=None)
    with td.transaction() as tx:
        TokenRepository(tx).update(stored.id, TokenChange(status=TokenStatus.CORRUPTED))

    with pytest.raises(TokenCorrupted) as caught:
        td.tokens.handout(bot, connection.name, TokenKind.SHARED)

    assert "disconnect it: the next request fetches a new one" in caught.value.message
    assert "authenticate" not in caught.value.message.casefold()


def test_a_consent_records_its_moment_and_a_refused_refresh_carries_its_diagnosis(
    td: Tokendesk, bot: Principal, provider: FakeProvider, clock: ManualClock
) -> None:
    connection = create_connection(td)
    stored = store_token(td, connection, lifetime_s=60)
    provider.token.answer(oauth_error(400, "invalid_grant", "grant request is invalid"))
    clock.advance(120)

    with pytest.raises(ReauthenticationRequired) as caught:
        td.tokens.handout(bot, connection.name, TokenKind.SHARED)
    row = token_row(td, stored.id)

    assert stored.consented_at == stored.refresh_issued_at == stored.issued_at
    diagnosis = caught.value.details["diagnosis"]
    assert diagnosis.cause is RefusalCause.REVOKED
    assert row.last_error is not None and row.last_error.startswith("invalid_grant: ")
    assert "grant request is invalid" in row.last_error
    assert "Authenticate again at" in caught.value.message
