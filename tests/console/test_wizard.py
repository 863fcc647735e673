"""The Create connection wizard without a browser: steps, errors next to their fields, the
client secret held on the server and never shown, and Edit keeping the stored secret."""

from __future__ import annotations

from console_support import Console, add_user, field_error

from support.api import CLIENT_SECRET
from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk

NEW_SECRET = "cs-second-secret-4d1e8b"


def start(console: Console) -> str:
    """Open a new wizard; returns its base path ``/wizard/<draft>``."""
    return console.get("/wizard/new").url.path.rsplit("/", 1)[0]


def stored_secret(td: Tokendesk, name: str) -> str | None:
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), name)
        secret = td.connections.client_secret(tx, connection)
    return secret.reveal() if secret else None


def client_credentials_details(**overrides: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": "billing-app",
            "client_secret": CLIENT_SECRET, "token_url": "https://auth.example.test/token",
            "scopes": "api:read", "go": "next", **overrides}


def test_the_four_steps_create_a_connection_with_invited_roles(
    admin: Console, td: Tokendesk,
) -> None:
    add_user(td, "bot", role="Sales bots")
    wizard = start(admin)
    steps = [
        (f"{wizard}/settings", {"provider": "custom", "name": "Billing API",
                                "description": "Invoices", "go": "next"}),
        (f"{wizard}/authentication", client_credentials_details()),
        (f"{wizard}/test", {"go": "next"}),
        (f"{wizard}/roles", {"role": ["Sales bots"], "go": "next"}),
    ]
    for path, data in steps:
        moved = admin.post(path, data)
        assert moved.status_code == 303, (path, moved.text[:3000])
        assert "field-error" not in admin.follow(moved).text
    review = admin.get(f"{wizard}/review")
    created = admin.post(f"{wizard}/review", {"go": "create"})
    page = admin.follow(created)

    assert "Sales bots" in review.text and "held, stored when you save" in review.text
    assert created.headers["location"] == "/connections/Billing%20API"
    assert "The connection &#39;Billing API&#39; was created." in page.text
    assert "stored — type a new one in Edit to replace it" in page.text
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Billing API")
    assert connection.invited_roles == ("Sales bots",)
    assert connection.grant_type.value == "client_credentials"
    assert stored_secret(td, "Billing API") == CLIENT_SECRET
    assert CLIENT_SECRET not in admin.every_page()
    assert admin.get(f"{wizard}/settings").status_code == 404  # the draft is gone


def test_a_step_cannot_be_skipped(admin: Console) -> None:
    wizard = start(admin)

    jump = admin.http.get(f"{wizard}/review", follow_redirects=False)

    assert jump.status_code == 303
    assert jump.headers["location"] == f"{wizard}/settings"


def test_errors_of_the_first_step_sit_next_to_their_fields(admin: Console,
                                                           td: Tokendesk) -> None:
    wizard = start(admin)
    empty = admin.post(f"{wizard}/settings", {"provider": "", "name": "  ", "go": "next"})
    bad = admin.post(f"{wizard}/settings", {"provider": "custom", "name": "no/slashes"})
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Taken"})
    admin.post(f"{wizard}/authentication", client_credentials_details())
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})  # creates the connection 'Taken'
    second = start(admin)
    taken = admin.post(f"{second}/settings", {"provider": "custom", "name": "taken"})

    assert empty.status_code == bad.status_code == taken.status_code == 422
    assert field_error(empty.text, "provider") == "Choose a provider type."
    assert field_error(empty.text, "name") == "Enter a connection name."
    assert "may contain letters, digits" in (field_error(bad.text, "name") or "")
    assert field_error(taken.text, "name") == "A connection named &#39;taken&#39; already exists."
    assert 'aria-invalid="true"' in taken.text


def test_errors_of_the_authentication_details_sit_next_to_their_fields(admin: Console) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "salesforce", "name": "Sales"})
    prefilled = admin.get(f"{wizard}/authentication")
    no_instance = admin.post(f"{wizard}/authentication", {
        "grant_type": "authorization_code", "client_id": "3MVG9", "client_secret": CLIENT_SECRET,
        "authorization_url": "https://<yourinstance>.salesforce.com/services/oauth2/authorize",
        "token_url": "https://<yourinstance>.salesforce.com/services/oauth2/token"})
    plain_http = admin.post(f"{wizard}/authentication", {
        "grant_type": "authorization_code", "client_id": "3MVG9",
        "placeholder-yourinstance": "acme",
        "authorization_url": "https://acme.salesforce.com/services/oauth2/authorize",
        "token_url": "http://acme.salesforce.com/token", "go": "next"})
    no_client = admin.post(f"{wizard}/authentication", {
        "grant_type": "authorization_code", "client_id": " ", "placeholder-yourinstance": "acme",
        "authorization_url": "https://acme.salesforce.com/services/oauth2/authorize",
        "token_url": "https://acme.salesforce.com/services/oauth2/token", "go": "next"})

    assert 'value="https://&lt;yourinstance&gt;.salesforce.com/services/oauth2/token"' in \
        prefilled.text
    assert 'value="api,refresh_token,offline_access"' in prefilled.text
    assert "Keep refresh_token and offline_access" in prefilled.text  # the provider's notes
    assert "Fill in &lt;yourinstance&gt;" in (field_error(no_instance.text,
                                                          "placeholder-yourinstance") or "")
    assert "https" in (field_error(plain_http.text, "token_url") or "")
    assert field_error(no_client.text, "client_id") == "Enter the client ID."
    # The secret typed in the first post is held on the server, never echoed into the page.
    assert "A client secret is held" in no_client.text
    assert CLIENT_SECRET not in admin.every_page()


def test_a_missing_secret_is_asked_for_and_back_keeps_what_was_typed(admin: Console) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Billing"})
    missing = admin.post(f"{wizard}/authentication",
                         client_credentials_details(client_secret=""))
    back = admin.post(f"{wizard}/authentication",
                      client_credentials_details(client_id="typed-id", go="back"))
    again = admin.get(f"{wizard}/authentication")

    assert field_error(missing.text, "client_secret") == "Enter the client secret."
    assert back.headers["location"] == f"{wizard}/settings"
    assert 'value="typed-id"' in again.text
    assert 'value="Billing"' in admin.get(f"{wizard}/settings").text
    assert CLIENT_SECRET not in admin.every_page()


def test_google_workspace_offers_scope_presets(admin: Console) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "google_workspace", "name": "Mail"})
    form = admin.get(f"{wizard}/authentication")
    admin.post(f"{wizard}/authentication", {
        "grant_type": "authorization_code", "client_id": "123.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET, "scope_preset": ["Gmail", "Google Calendar"],
        "authorization_url": "https://accounts.google.com/o/oauth2/auth?prompt=consent"
                             "&access_type=offline",
        "token_url": "https://oauth2.googleapis.com/token", "scopes": "", "go": "next"})
    test_step = admin.get(f"{wizard}/test")

    assert "Client Credentials Flow" not in form.text  # Google offers one grant type
    assert "access_type=offline" in form.text
    for preset in ("Google Calendar", "Google Drive", "Google Sheets", "Gmail"):
        assert f'value="{preset}"' in form.text
    assert "https://mail.google.com/,https://www.googleapis.com/auth/gmail.readonly," \
           "https://www.googleapis.com/auth/gmail.send," \
           "https://www.googleapis.com/auth/calendar" in test_step.text


def test_testing_a_new_connection_saves_nothing_and_shows_the_verdict(admin: Console,
                                                                    td: Tokendesk) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Unreachable"})
    admin.post(f"{wizard}/authentication",
               client_credentials_details(token_url="https://tokendesk-test.invalid/token"))
    tested = admin.post(f"{wizard}/test", {"go": "test", "save_credentials": "on"})
    page = admin.follow(tested)

    assert tested.headers["location"] == f"{wizard}/test"
    assert "The test failed" in page.text
    assert 'name="save_credentials" checked' in page.text
    assert "Client secret</dt><dd>held, stored when you save" in page.text
    with td.transaction() as tx:
        assert td.connections.search(tx, command_line_principal()) == []
    assert CLIENT_SECRET not in admin.every_page()


def test_edit_keeps_the_stored_secret_unless_a_new_one_is_typed(admin: Console,
                                                                td: Tokendesk) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Billing"})
    admin.post(f"{wizard}/authentication", client_credentials_details())
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})

    def edit(**details: str) -> None:
        draft = admin.get("/connections/Billing/edit").url.path.rsplit("/", 1)[0]
        form = admin.get(f"{draft}/authentication")
        assert "A client secret is held for this connection" in form.text
        admin.post(f"{draft}/settings", {"name": "Billing", "description": "edited"})
        admin.post(f"{draft}/authentication", client_credentials_details(**details))
        admin.post(f"{draft}/test", {"go": "next"})
        admin.post(f"{draft}/roles", {"go": "next"})
        saved = admin.post(f"{draft}/review", {"go": "create"})
        assert saved.headers["location"] == "/connections/Billing"

    edit(client_secret="", client_id="billing-app-2")
    kept = stored_secret(td, "Billing")
    edit(client_secret=NEW_SECRET, client_id="billing-app-2")

    assert kept == CLIENT_SECRET
    assert stored_secret(td, "Billing") == NEW_SECRET
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Billing")
    assert connection.client_id == "billing-app-2"
    assert connection.description == "edited"
    every_page = admin.every_page()
    assert CLIENT_SECRET not in every_page and NEW_SECRET not in every_page


def test_only_custom_roles_can_be_invited_and_the_list_is_searchable(
    admin: Console, td: Tokendesk,
) -> None:
    add_user(td, "bot", role="Sales bots")
    add_user(td, "hr", role="HR robots")
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Billing"})
    admin.post(f"{wizard}/authentication", client_credentials_details())
    admin.post(f"{wizard}/test", {"go": "next"})
    roles = admin.get(f"{wizard}/roles")
    admin.post(f"{wizard}/roles", {"role": ["HR robots"], "go": "search", "q": "sales"})
    searched = admin.get(f"{wizard}/roles?q=sales")

    assert "Sales bots" in roles.text and "HR robots" in roles.text
    assert "Administrator" not in roles.text and "Auditor" not in roles.text
    assert "mandatory when a bot uses this connection" in roles.text
    assert 'value="Sales bots"' in searched.text
    assert '<input type="hidden" name="role" value="HR robots">' in searched.text


def test_edit_moving_the_token_url_to_another_server_asks_for_the_secret_again(
    admin: Console, td: Tokendesk
) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Billing"})
    admin.post(f"{wizard}/authentication", client_credentials_details())
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})
    draft = admin.get("/connections/Billing/edit").url.path.rsplit("/", 1)[0]
    elsewhere = "https://collector.example.net/token"

    refused = admin.post(f"{draft}/authentication", client_credentials_details(
        client_secret="", token_url=elsewhere, client_id="billing-app-2"))
    with td.transaction() as tx:
        unchanged = td.connections.get(tx, command_line_principal(), "Billing")
    retyped = admin.post(f"{draft}/authentication", client_credentials_details(
        client_secret=NEW_SECRET, token_url=elsewhere))
    admin.post(f"{draft}/test", {"go": "next"})
    admin.post(f"{draft}/roles", {"go": "next"})
    saved = admin.post(f"{draft}/review", {"go": "create"})

    assert refused.status_code == 422
    assert field_error(refused.text, "client_secret") == (
        "The token URL now points at another server; enter the client secret again.")
    assert f'value="{elsewhere}"' in refused.text and 'value="billing-app-2"' in refused.text
    assert unchanged.token_url == "https://auth.example.test/token"
    assert retyped.status_code == 303
    assert saved.headers["location"] == "/connections/Billing"
    with td.transaction() as tx:
        moved = td.connections.get(tx, command_line_principal(), "Billing")
    assert moved.token_url == elsewhere
    assert stored_secret(td, "Billing") == NEW_SECRET
    assert CLIENT_SECRET not in admin.every_page() and NEW_SECRET not in admin.every_page()
