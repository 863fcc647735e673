"""A refused refresh on the console: the token reads *Needs consent* with the diagnosis as
its reason and one thing to do, and it is no longer called refreshable."""

from __future__ import annotations

from datetime import timedelta

from console_support import Console

from support.api import connection_body
from tokendesk.domain.diagnosis import Diagnosis, RefusalCause
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet, TokenStatus
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tokens import TokenChange, TokenRepository
from tokendesk.wiring import Tokendesk

REASON = "The refresh token was last used 95 days ago, and Jira documents 90 days."


def test_a_refused_token_shows_its_diagnosis_and_what_to_do(admin: Console, td: Tokendesk
                                                            ) -> None:
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(),
                              ConnectionCreate.model_validate(connection_body()))
        connection = td.connections.get(tx, command_line_principal(), "Salesforce prod")
        stored = td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-1"), "Bearer", td.clock() + timedelta(minutes=15), Secret("rt-1")))
        diagnosis = Diagnosis(RefusalCause.UNUSED, REASON, "A person must consent again.")
        TokenRepository(tx).update(stored.id, TokenChange(
            status=TokenStatus.NEEDS_REAUTHENTICATION, last_error="invalid_grant: " + REASON,
            diagnosis=diagnosis.to_json()))

    page = admin.get("/connections/Salesforce prod").text

    assert '<span class="badge bad">Needs consent</span>' in page
    assert f"<span data-state-reason>{REASON}</span>" in page
    assert "Re-authenticate on the connection&#39;s page" in page
    assert "no: the provider refused its refresh token" in page
    assert "yes, it has a refresh token" not in page
    assert "rt-1" not in page and "at-1" not in page
