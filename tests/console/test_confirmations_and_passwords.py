"""Confirmation steps and one's own password, on SQLite and PostgreSQL: a destructive post
without ``confirmed`` changes nothing and leads to its confirmation page, which counts what
it breaks; changing one's password needs the current one and ends the other sessions."""

from __future__ import annotations

from collections.abc import Callable

from console_support import PASSWORD, Console, add_user

from support.api import key_for
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.accounts import UserRepository
from tokendesk.wiring import Tokendesk

NEW_PASSWORD = "another long pass phrase"


def test_unconfirmed_destructive_posts_change_nothing_and_lead_to_their_confirmation(
    admin: Console, td: Tokendesk,
) -> None:
    add_user(td, "bot", role="Bots")
    key_for(td, "bot")
    with td.transaction() as tx:
        [key] = [k for k in td.auth.list_api_keys(tx, command_line_principal())]
        td.connections.create(tx, command_line_principal(), ConnectionCreate.model_validate({
            "name": "Billing", "provider": "custom", "grant_type": "client_credentials",
            "client_id": "id", "client_secret": "secret",
            "token_url": "https://idp.example.com/token", "invited_roles": ["Bots"]}))

    posts = {
        "/connections/Billing/disconnect": ({}, "/connections/Billing/disconnect"),
        "/admin/roles/Bots": ({"action": "delete"}, "/admin/roles/Bots/delete"),
        "/admin/users/bot": ({"action": "disable"}, "/admin/users/bot/disable"),
        f"/api-keys/{key.id}/revoke": ({}, f"/api-keys/{key.id}/revoke"),
    }
    for path, (form, confirmation) in posts.items():
        answer = admin.post(path, form)
        assert answer.headers["location"] == confirmation, path
    reset = admin.post("/admin/users/bot", {"action": "password", "password": NEW_PASSWORD})

    assert reset.headers["location"] == "/admin/users/bot/password"
    with td.transaction() as tx:
        assert not td.accounts.get_user(tx, "bot").disabled
        assert "Bots" in td.accounts.role_names(tx).values()
        assert td.auth.list_api_keys(tx, command_line_principal())[0].active
    role_page = admin.get("/admin/roles/Bots/delete").text
    assert "1 user loses its permissions now, 1 of them with an API key." in role_page
    assert "1 connection stops inviting it: Billing" in role_page
    assert "1 user of its invited roles uses it, 1 of them a bot with an API key." in (
        admin.get("/connections/Billing/disconnect").text)


def test_changing_ones_password_needs_the_current_one_and_ends_the_other_sessions(
    browser: Callable[[], Console], td: Tokendesk,
) -> None:
    add_user(td, "hanna")
    here, elsewhere = browser(), browser()
    here.sign_in("hanna")
    elsewhere.sign_in("hanna")

    wrong = here.post("/my/password", {"current_password": "not it at all", "new_password":
                                       NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    changed = here.post("/my/password", {"current_password": PASSWORD, "new_password":
                                         NEW_PASSWORD, "confirm_password": NEW_PASSWORD})

    assert wrong.status_code == 422 and "Your current password is not right." in wrong.text
    assert changed.status_code == 303
    assert here.get("/my/connections").status_code == 200  # this session stays
    assert elsewhere.get("/my/connections", follow_redirects=False).status_code == 303
    assert Console(here.http).sign_in("hanna", NEW_PASSWORD).status_code == 303
    assert NEW_PASSWORD not in here.every_page()


def test_a_session_with_a_generated_password_reaches_only_the_password_page_and_no_api(
    browser: Callable[[], Console], td: Tokendesk,
) -> None:
    add_user(td, "root", "oauth_connections.view")
    with td.transaction() as tx:
        UserRepository(tx).update(td.accounts.get_user(tx, "root").id,
                                  {"password_change_required": True})
    root = browser()
    root.sign_in("root")

    page = root.get("/connections", follow_redirects=False)
    api = root.get("/api/v1/connections")
    changed = root.post("/my/password", {"current_password": PASSWORD, "new_password":
                                         NEW_PASSWORD, "confirm_password": NEW_PASSWORD})

    assert page.headers["location"] == "/my/password"
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "password_change_required"
    assert changed.headers["location"] == "/"
    assert root.get("/connections").status_code == 200
    assert root.get("/api/v1/connections").status_code == 200
