"""The wizard tells the truth before anything is saved: the real URLs as soon as the
placeholders are typed, a test that creates nothing unless the administrator chooses to
save, a Cancel that leaves nothing behind, and a review that says what was tested and
whether a shared token exists. Its drafts live in the database, so another replica serves
the next step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_support import PUBLIC_URL, Console
from fastapi.testclient import TestClient
from sqlalchemy import select

from support.api import CLIENT_SECRET
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.storage.tables import console_drafts
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build

SALESFORCE_TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"


def start(console: Console) -> str:
    return console.get("/wizard/new").url.path.rsplit("/", 1)[0]


def custom_client_credentials(console: Console, wizard: str, name: str = "Billing") -> None:
    console.post(f"{wizard}/settings", {"provider": "custom", "name": name, "go": "next"})
    console.post(f"{wizard}/authentication", {
        "grant_type": "client_credentials", "client_id": "billing-app",
        "client_secret": CLIENT_SECRET, "token_url": "https://tokendesk-test.invalid/token",
        "scopes": "api:read", "go": "next"})


def salesforce_code_flow(console: Console, wizard: str, instance: str = "acme.my") -> None:
    console.post(f"{wizard}/settings", {"provider": "salesforce", "name": "CRM", "go": "next"})
    form = console.get(f"{wizard}/authentication").text
    assert "https://&lt;yourinstance&gt;.salesforce.com/services/oauth2/token" in form
    console.post(f"{wizard}/authentication", {
        "grant_type": "authorization_code", "client_id": "crm-app",
        "client_secret": CLIENT_SECRET, "placeholder-yourinstance": instance,
        "authorization_url": "https://<yourinstance>.salesforce.com/services/oauth2/authorize",
        "token_url": "https://<yourinstance>.salesforce.com/services/oauth2/token",
        "scopes": "api,refresh_token", "pkce": "on", "go": "next"})


def connection_names(td: Tokendesk) -> list[str]:
    with td.transaction() as tx:
        return [c.name for c in td.connections.search(tx, command_line_principal())]


def test_steps_three_and_five_show_the_url_with_the_typed_placeholder(admin: Console) -> None:
    wizard = start(admin)
    salesforce_code_flow(admin, wizard)
    test_step = admin.get(f"{wizard}/test").text
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    review = admin.get(f"{wizard}/review").text
    details = admin.get(f"{wizard}/authentication").text

    for page in (test_step, review):
        assert f'id="token-url">{SALESFORCE_TOKEN_URL}<' in page
        assert "acme.my.salesforce.com/services/oauth2/authorize" in page
        assert "&lt;yourinstance&gt;" not in page
    assert f"With your address: <code class=\"wrap\">{SALESFORCE_TOKEN_URL}</code>" in details


def test_a_placeholder_not_typed_yet_stays_a_placeholder(admin: Console) -> None:
    wizard = start(admin)
    salesforce_code_flow(admin, wizard, instance="")  # refused: the draft keeps the template
    details = admin.get(f"{wizard}/authentication").text

    assert "With your address" not in details


def test_testing_a_new_client_credentials_connection_saves_nothing(admin: Console,
                                                                   td: Tokendesk) -> None:
    wizard = start(admin)
    custom_client_credentials(admin, wizard)
    test_step = admin.get(f"{wizard}/test").text
    tested = admin.follow(admin.post(f"{wizard}/test", {"go": "test"})).text

    assert 'id="save-and-test">Test connection<' in test_step
    assert "saves nothing" in test_step
    assert "The test failed" in tested
    assert connection_names(td) == []


def test_cancel_on_a_new_connection_leaves_nothing_behind(admin: Console,
                                                          td: Tokendesk) -> None:
    wizard = start(admin)
    custom_client_credentials(admin, wizard)
    admin.post(f"{wizard}/test", {"go": "test"})
    cancelled = admin.post(f"{wizard}/cancel")

    assert cancelled.headers["location"] == "/connections"
    assert connection_names(td) == []
    with td.transaction() as tx:
        assert tx.execute(select(console_drafts)).all() == []
    assert admin.get(f"{wizard}/test").status_code == 404


def test_a_consent_test_saves_only_when_chosen_and_cancel_deletes_it(admin: Console,
                                                                     td: Tokendesk) -> None:
    wizard = start(admin)
    salesforce_code_flow(admin, wizard)
    offered = admin.get(f"{wizard}/test").text
    consent = admin.post(f"{wizard}/test", {"go": "test"})
    saved = connection_names(td)
    cancelled = admin.follow(admin.post(f"{wizard}/cancel")).text

    assert 'id="save-and-test">Save and test connection<' in offered
    assert "saves it and opens the consent page" in offered
    assert consent.headers["location"].startswith(
        "https://acme.my.salesforce.com/services/oauth2/authorize?")
    assert saved == ["CRM"]
    assert connection_names(td) == []
    assert "was saved for its test only; it was deleted" in cancelled


def test_the_review_says_what_was_tested_and_that_no_shared_token_exists(
    admin: Console,
) -> None:
    untested = start(admin)
    custom_client_credentials(admin, untested, "Untested")
    admin.post(f"{untested}/test", {"go": "next", "save_credentials": "on"})
    admin.post(f"{untested}/roles", {"go": "next"})
    failed = start(admin)
    custom_client_credentials(admin, failed, "Failed")
    admin.post(f"{failed}/test", {"go": "test"})
    admin.post(f"{failed}/test", {"go": "next"})
    admin.post(f"{failed}/roles", {"go": "next"})
    failed_review = admin.get(f"{failed}/review").text
    admin.post(f"{failed}/authentication", {
        "grant_type": "client_credentials", "client_id": "another-app", "client_secret": "",
        "token_url": "https://tokendesk-test.invalid/token", "scopes": "api:read",
        "go": "next"})
    changed_review = admin.get(f"{failed}/review").text
    untested_review = admin.get(f"{untested}/review").text

    assert 'id="review-test">not tested<' in untested_review
    assert ('id="review-shared-token">none yet — requested from the provider when you save<'
            in untested_review)
    assert "yes — a shared token" not in untested_review
    assert 'id="review-test">failed<' in failed_review
    assert 'id="review-shared-token">no — each user authenticates himself<' in failed_review
    assert 'id="review-test">not tested since the details changed<' in changed_review


def test_the_review_of_an_edit_says_whether_a_shared_token_exists(admin: Console,
                                                                  td: Tokendesk) -> None:
    wizard = start(admin)
    custom_client_credentials(admin, wizard)
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})

    def review_of_an_edit() -> str:
        draft = admin.get("/connections/Billing/edit").url.path.rsplit("/", 1)[0]
        return admin.get(f"{draft}/review").text

    without = review_of_an_edit()
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Billing")
        td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-shared-1"), "Bearer", td.clock() + timedelta(hours=1)))
    with_token = review_of_an_edit()

    assert 'id="review-shared-token">none<' in without
    assert 'id="review-shared-token">yes — ' in with_token
    assert "at-shared-1" not in admin.every_page()


@pytest.fixture
def second_replica(settings: Settings, td: Tokendesk) -> Iterator[TestClient]:
    """Another Tokendesk process on the same database and key ring (no shared memory)."""
    other = build(settings, passwords=CHEAP_PASSWORDS)
    client = TestClient(create_app(other), base_url=PUBLIC_URL)
    yield client
    client.close()
    other.close()


def test_another_replica_serves_the_next_step_of_a_draft(admin: Console, td: Tokendesk,
                                                         second_replica: TestClient) -> None:
    wizard = start(admin)
    custom_client_credentials(admin, wizard)
    second_replica.cookies = admin.http.cookies
    there = Console(second_replica)
    test_step = there.get(f"{wizard}/test")
    there.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    created = there.follow(there.post(f"{wizard}/review", {"go": "create"}))
    with td.transaction() as tx:
        body = tx.execute(select(console_drafts.c.body)).scalars().all()

    assert test_step.status_code == 200 and "billing-app" in test_step.text
    assert "The connection &#39;Billing&#39; was created." in created.text
    assert connection_names(td) == ["Billing"]
    assert body == []  # the draft ends with the wizard
    assert CLIENT_SECRET not in admin.every_page() + there.every_page()


def test_a_held_secret_is_in_the_database_only_encrypted(admin: Console,
                                                         td: Tokendesk) -> None:
    wizard = start(admin)
    custom_client_credentials(admin, wizard)
    with td.transaction() as tx:
        bodies = tx.execute(select(console_drafts.c.body)).scalars().all()

    assert len(bodies) == 1 and '"secret_ciphertext": "' in bodies[0]
    assert CLIENT_SECRET not in bodies[0]
