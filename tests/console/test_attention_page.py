"""The console's start page lists what needs attention (an administrator everything, a user
his part) with counts by state; a connection's page takes the client secret's expiry date and
shows its forecasts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from console_support import Console, add_user

from support.api import connection_body
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet, TokenStatus
from tokendesk.services.inputs import ConnectionCreate, RoleCreate
from tokendesk.storage.tokens import TokenChange, TokenRepository
from tokendesk.wiring import Tokendesk


def jira(td: Tokendesk, name: str, **overrides: object) -> None:
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(), ConnectionCreate.model_validate(
            connection_body(name=name, provider="jira", placeholders={}, scopes=None,
                            **overrides)))


def refused_token(td: Tokendesk, name: str, username: str | None = None) -> None:
    """A token the provider refused to refresh (invalid_grant): it needs consent."""
    actor = command_line_principal()
    with td.transaction() as tx:
        connection = td.connections.get(tx, actor, name)
        user_id = td.accounts.get_user(tx, username).id if username else None
        stored = td.tokens.store(
            tx, connection, TokenKind.USER if username else TokenKind.SHARED, user_id,
            TokenSet(Secret("at"), "Bearer", td.clock() + timedelta(hours=1), Secret("rt")))
        TokenRepository(tx).update(stored.id, TokenChange(
            status=TokenStatus.NEEDS_REAUTHENTICATION, last_error="invalid_grant: revoked."))


def rows(html: str) -> list[str]:
    table = re.search(r'<table class="list" id="attention">(.*?)</table>', html, re.S)
    assert table is not None, html[:3000]
    return re.findall(r'<tr data-state="([a-z_]+)">', table.group(1))


def count_of(html: str, state: str) -> int:
    found = re.search(rf'data-state="{state}"><span class="badge [a-z]+">(\d+)</span>', html)
    assert found is not None
    return int(found.group(1))


def test_an_administrator_starts_on_the_whole_attention_list(
    td: Tokendesk, admin: Console
) -> None:
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name="jira-users"))
    add_user(td, "alice", roles=("jira-users",))
    jira(td, "Jira cloud", invited_roles=["jira-users"])
    jira(td, "Jira staging", client_secret_expires_on=(td.clock().date() + timedelta(days=3))
         .isoformat())
    refused_token(td, "Jira cloud")
    refused_token(td, "Jira cloud", "alice")

    start = admin.follow(admin.get("/", follow_redirects=False))

    assert start.url.path == "/attention"
    assert rows(start.text) == ["needs_consent", "needs_consent", "secret_expiring"]
    assert count_of(start.text, "needs_consent") == 2
    assert count_of(start.text, "secret_expiring") == 1
    assert count_of(start.text, "backing_off") == 0
    assert 'href="/connections/Jira%20cloud"' in start.text
    assert 'href="/my/connections/Jira%20cloud"' in start.text
    assert "alice, who owns the token" in start.text
    assert "Client secret expires on" in start.text


def test_a_user_sees_his_own_part(td: Tokendesk, browser: Callable[[], Console]) -> None:
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name="jira-users"))
    add_user(td, "alice", roles=("jira-users",))
    add_user(td, "bob", roles=("jira-users",))
    jira(td, "Jira cloud", invited_roles=["jira-users"])
    jira(td, "Hidden", client_secret_expires_on=td.clock().date().isoformat())
    refused_token(td, "Jira cloud", "alice")
    refused_token(td, "Jira cloud", "bob")
    alice = browser()
    alice.sign_in("alice")

    start = alice.get("/attention")

    assert rows(start.text) == ["needs_consent"]
    assert "alice's" in start.text and "bob" not in start.text and "Hidden" not in start.text


def test_nothing_to_do_says_so(admin: Console) -> None:
    start = admin.get("/attention")

    assert "Nothing needs your attention" in start.text
    assert start.status_code == 200


def test_the_secret_expiry_date_is_entered_on_the_connection_page_and_forecast(
    td: Tokendesk, admin: Console
) -> None:
    jira(td, "Jira cloud")

    saved = admin.follow(admin.post("/connections/Jira%20cloud/secret-expiry",
                                    {"client_secret_expires_on": "2027-06-30"}))

    assert "The client secret expires on 2027-06-30" in saved.text
    assert 'id="secret-expires">2027-06-30' in saved.text
    assert "Client secret expires on 2027-06-30 (entered by an administrator)." in saved.text
    refused = admin.follow(admin.post("/connections/Jira%20cloud/secret-expiry",
                                      {"client_secret_expires_on": "30.06.2027"}))
    assert "must be a day such as 2027-06-30" in refused.text
    assert 'id="secret-expires">2027-06-30' in refused.text
    forgotten = admin.follow(admin.post("/connections/Jira%20cloud/secret-expiry",
                                        {"client_secret_expires_on": ""}))
    assert "expiry date was removed" in forgotten.text
    assert 'id="secret-expires"><span class="muted">not entered' in forgotten.text


def test_only_a_manager_may_enter_the_date(td: Tokendesk, browser: Callable[[], Console]) -> None:
    jira(td, "Jira cloud")
    add_user(td, "viewer", "oauth_connections.view")
    viewer = browser()
    viewer.sign_in("viewer")

    answer = viewer.post("/connections/Jira%20cloud/secret-expiry",
                         {"client_secret_expires_on": "2027-06-30"})

    assert answer.status_code == 403


def test_a_user_sees_when_his_own_token_needs_consent_again(
    td: Tokendesk, browser: Callable[[], Console]
) -> None:
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name="jira-users"))
    add_user(td, "alice", roles=("jira-users",))
    jira(td, "Jira cloud", invited_roles=["jira-users"])
    actor = command_line_principal()
    with td.transaction() as tx:
        connection = td.connections.get(tx, actor, "Jira cloud")
        td.tokens.store(tx, connection, TokenKind.USER, td.accounts.get_user(tx, "alice").id,
                        TokenSet(Secret("at"), "Bearer", td.clock() + timedelta(hours=1),
                                 Secret("rt")))
    due = (td.clock() + timedelta(days=90)).date().isoformat()
    alice = browser()
    alice.sign_in("alice")

    mine = alice.get("/my/connections/Jira%20cloud")

    assert f"Consent needed by {due} (Atlassian documents 90 days unused)." in mine.text


def connection_counts(html: str) -> dict[str, int]:
    listed = re.search(r'<ul class="attention-counts" id="connection-counts".*?</ul>', html, re.S)
    assert listed is not None, html[:3000]
    return {state: int(n) for state, n in re.findall(
        r'data-state="([a-z_]+)"><a href="/connections\?status=\1"><span class="badge [a-z]+">'
        r"(\d+)</span>", listed.group(0))}


def test_the_start_page_counts_connections_by_the_state_of_their_shared_token(
    td: Tokendesk, admin: Console, browser: Callable[[], Console],
) -> None:
    for name in ("Jira cloud", "Jira staging", "Jira data center"):
        jira(td, name)
    refused_token(td, "Jira cloud")
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Jira staging")
        td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at"), "Bearer", td.clock() + timedelta(hours=1), Secret("rt")))
    add_user(td, "alice")
    alice = browser()
    alice.sign_in("alice")

    start = admin.get("/attention")

    # The filters of the connections list, in the one vocabulary of token states.
    assert connection_counts(start.text) == {"valid": 1, "refreshing_soon": 0, "attention": 1,
                                             "none": 1}
    assert 'id="connection-counts"' not in alice.get("/attention").text
