"""The attention list: what is broken now comes first, then what falls due within the horizon;
each item says why in plain words, who can fix it and where; each person sees their part."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from domain.test_forecast import ATLASSIAN, NOW, connection, token
from tokendesk.domain.attention import (
    AttentionState,
    Facts,
    Fixer,
    Subject,
    attention_items,
    counts,
)
from tokendesk.domain.connections import Connection, ConnectionStatus
from tokendesk.domain.tokens import StoredToken, TokenKind, TokenStatus

HORIZON = timedelta(days=14)


def everyone(connection: Connection, token: StoredToken | None) -> bool:
    return True


def listed(connections: list[Connection], tokens: list[StoredToken],
           horizon: timedelta = HORIZON) -> list[tuple[str, str, str | None]]:
    facts = Facts(connections, tokens, {"u-alice": "alice"}, lambda c: ATLASSIAN)
    return [(i.state.value, i.connection, i.user)
            for i in attention_items(facts, NOW, horizon, everyone)]


def test_broken_items_come_first_then_forecasts_by_due_date() -> None:
    jira, crm, mail = (connection(), connection(id="c2", name="CRM"),
                       connection(id="c3", name="Mail",
                                  client_secret_expires_on=date(2026, 12, 12)))
    consent_due = token()  # 90 days unused since NOW - 80 days: due in 10 days
    refused = token(id="t2", connection_id="c2", status=TokenStatus.NEEDS_REAUTHENTICATION,
                    last_error="invalid_grant: the provider refused the refresh token.")
    backing_off = token(id="t3", connection_id="c3", kind=TokenKind.USER, user_id="u-alice",
                        failure_count=2, next_attempt_at=NOW + timedelta(minutes=4),
                        last_refresh_at=NOW)

    assert listed([jira, crm, mail], [consent_due, refused, backing_off]) == [
        ("needs_consent", "CRM", None),
        ("backing_off", "Mail", "alice"),
        ("secret_expiring", "Mail", None),
        ("consent_due", "Jira", None),
    ]


def test_nothing_due_beyond_the_horizon_is_listed() -> None:
    assert listed([connection()], [token()], horizon=timedelta(days=9)) == []
    assert listed([connection()], [token()], horizon=timedelta(days=10)) == [
        ("consent_due", "Jira", None)
    ]


def test_a_misconfigured_connection_is_one_item_for_an_administrator_not_one_per_token() -> None:
    refused = connection(status=ConnectionStatus.MISCONFIGURED,
                         last_error="invalid_client: the client secret was not accepted.")
    facts = Facts([refused], [token(), token(id="t2", kind=TokenKind.USER, user_id="u-alice")],
                  {"u-alice": "alice"}, lambda c: ATLASSIAN)

    (item,) = attention_items(facts, NOW, HORIZON, everyone)

    assert item.state is AttentionState.MISCONFIGURED
    assert item.subject is Subject.CONNECTION
    assert item.fixer is Fixer.ADMINISTRATOR
    assert item.fix_path == "/connections/Jira/edit"
    assert "invalid_client" in item.reason


def test_a_user_token_needing_consent_is_fixed_by_its_user_on_his_own_page() -> None:
    mine = token(kind=TokenKind.USER, user_id="u-alice", status=TokenStatus.NEEDS_REAUTHENTICATION)
    facts = Facts([connection(name="Jira Cloud")], [mine], {"u-alice": "alice"},
                  lambda c: None)

    (item,) = attention_items(facts, NOW, HORIZON, everyone)

    assert item.fixer is Fixer.USER
    assert item.user == "alice"
    assert item.who_can_fix.startswith("alice")
    assert item.fix_path == "/my/connections/Jira%20Cloud"
    assert item.reason.startswith("alice's token can no longer be refreshed")


def test_a_forecast_item_carries_the_forecast_and_its_source_in_words() -> None:
    facts = Facts([connection()], [token()], {}, lambda c: ATLASSIAN)

    (item,) = attention_items(facts, NOW, HORIZON, everyone)

    assert item.forecast is not None
    assert item.due_at == item.forecast.due_at
    assert "Atlassian documents 90 days unused" in item.reason
    assert item.fix_path == "/connections/Jira"


def test_what_a_person_may_not_see_is_left_out() -> None:
    other = token(kind=TokenKind.USER, user_id="u-bob", status=TokenStatus.CORRUPTED)
    facts = Facts([connection()], [other], {}, lambda c: None)

    def own_only(c: Connection, t: StoredToken | None) -> bool:
        return t is not None and t.user_id == "u-alice"

    assert attention_items(facts, NOW, HORIZON, own_only) == []
    assert [i.state for i in attention_items(facts, NOW, HORIZON, everyone)] == [
        AttentionState.DAMAGED]


def test_counts_name_every_state() -> None:
    facts = Facts([replace(connection(), status=ConnectionStatus.MISCONFIGURED)], [], {},
                  lambda c: None)

    found = counts(attention_items(facts, NOW, HORIZON, everyone))

    assert found[AttentionState.MISCONFIGURED] == 1
    assert set(found) == set(AttentionState)
    assert sum(found.values()) == 1
