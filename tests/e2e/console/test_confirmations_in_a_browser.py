"""Destructive actions of the console ask first, saying what they break: Disconnect (how many
users and bots use the shared token), Delete role, Disable user, Reset password and Revoke API
key. Cancel changes nothing; the REST API still acts at once (a console step only)."""

from __future__ import annotations

from typing import Any

from browser_support import Scene, Traffic, assert_shows_no_secret, sign_in
from playwright.sync_api import expect
from pydantic import SecretStr

from support.api import ADMIN_PASSWORD, make_user
from support.desk import BOT_ROLE
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import UserCreate


def shared_token_connection(scene: Scene, name: str = "Billing API") -> None:
    client = scene.oauth.clients["cc-basic"]
    created = scene.admin.post("/connections", json={
        "name": name, "provider": "custom", "grant_type": "client_credentials",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "token_url": scene.oauth.token_endpoint, "scopes": "api:read",
        "invited_roles": [BOT_ROLE]})
    assert created.status_code == 201, created.text
    tested = scene.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    assert tested.json()["ok"] is True, tested.text


def add_person(scene: Scene, username: str, roles: list[str]) -> None:
    """A user without an API key (a person, not a bot)."""
    td = scene.server.td
    with td.transaction() as tx:
        td.accounts.create_user(tx, command_line_principal(), UserCreate(
            username=username, password=SecretStr(ADMIN_PASSWORD), roles=roles))


def role_names(scene: Scene) -> list[str]:
    return [role["name"] for role in scene.admin.get("/roles").json()]


def shared_access_token(scene: Scene) -> str:
    answer = scene.bot.get("/connections/Billing API/token", params={"token_type": "shared"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_disconnect_says_how_many_users_and_bots_use_the_shared_token_before_revoking_it(
    scene: Scene, page: Any,
) -> None:
    traffic = Traffic(page)
    shared_token_connection(scene)
    make_user(scene.server.td, "bot2", roles=[BOT_ROLE])
    add_person(scene, "hanna", [BOT_ROLE])
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/connections/Billing API")

    page.click("#disconnect")
    expect(page.locator("h1")).to_have_text("Disconnect the shared token of “Billing API”?")
    expect(page.locator("#consequences")).to_contain_text(
        "3 users of its invited roles use it, 2 of them bots with an API key.")
    expect(page.locator("#consequences")).to_contain_text(
        "The next request for it gets a new token from the provider")
    before = shared_access_token(scene)
    page.click("#cancel")
    expect(page.locator("#shared-token")).to_contain_text("Valid")
    assert shared_access_token(scene) == before  # Cancel changed nothing

    page.click("#disconnect")
    page.click("#confirm")
    expect(page.locator(".notice.ok")).to_contain_text("shared token was")
    expect(page.locator("#shared-token")).not_to_contain_text("Valid")
    assert shared_access_token(scene) != before  # the old one was revoked and deleted
    traffic.assert_only_to(scene.url)
    traffic.assert_nothing_missing()


def test_deleting_a_role_names_its_users_and_the_connections_that_invite_it(
    scene: Scene, page: Any,
) -> None:
    traffic = Traffic(page)
    shared_token_connection(scene)
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + f"/admin/roles/{BOT_ROLE}")

    page.click("#delete-role")
    expect(page.locator("h1")).to_have_text(f"Delete the role “{BOT_ROLE}”?")
    expect(page.locator("#consequences")).to_contain_text(
        "1 user loses its permissions now, 1 of them with an API key.")
    expect(page.locator("#consequences")).to_contain_text(
        "1 connection stops inviting it: Billing API")
    page.click("#cancel")
    assert BOT_ROLE in role_names(scene)

    page.click("#delete-role")
    page.click("#confirm")
    expect(page.locator(".notice.ok")).to_contain_text(f"The role '{BOT_ROLE}' was deleted.")
    assert BOT_ROLE not in role_names(scene)
    traffic.assert_only_to(scene.url)


def test_disabling_a_user_counts_the_api_keys_that_stop_working(scene: Scene, page: Any) -> None:
    traffic = Traffic(page)
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/admin/users/bot")

    page.click("#disable-user")
    expect(page.locator("h1")).to_have_text("Disable the user “bot”?")
    expect(page.locator("#consequences")).to_contain_text(
        "1 API key of this user stops working at once")
    page.click("#cancel")
    assert scene.bot.get("/connections").status_code == 200

    page.click("#disable-user")
    page.click("#confirm")
    expect(page.locator(".notice.ok")).to_contain_text("The user was disabled")
    assert scene.bot.get("/connections").status_code == 401
    traffic.assert_only_to(scene.url)


def test_an_administrator_resets_a_password_on_a_confirmation_page(scene: Scene, page: Any,
                                                                   chromium: Any) -> None:
    traffic = Traffic(page)
    add_person(scene, "hanna", [BOT_ROLE])
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/admin/users/hanna")
    new_password = "a brand new pass phrase"

    page.click("#reset-password")
    expect(page.locator("h1")).to_have_text("Reset the password of “hanna”?")
    expect(page.locator("#consequences")).to_contain_text("the sessions open now end")
    page.fill("#f-password", "short")
    page.click("#confirm")
    expect(page.locator("#error-summary")).to_contain_text("at least 12 characters")
    page.fill("#f-password", new_password)
    page.click("#confirm")

    expect(page.locator(".notice.ok")).to_contain_text("The password was reset")
    assert_shows_no_secret(page, new_password)
    hanna = chromium.new_context().new_page()
    sign_in(hanna, scene.url, "hanna", new_password)
    expect(hanna).to_have_url(scene.url + "/attention")  # signed in: the start page
    hanna.context.close()
    traffic.assert_only_to(scene.url)


def test_revoking_an_api_key_says_who_it_acts_as_and_that_bots_sending_it_get_401(
    scene: Scene, page: Any,
) -> None:
    traffic = Traffic(page)
    bot2 = make_user(scene.server.td, "bot2", roles=[BOT_ROLE])
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/api-keys")

    row = page.locator("#api-keys tr", has_text="bot2")
    row.locator("a:has-text('Revoke')").click()
    expect(page.locator("h1")).to_have_text("Revoke the API key “tests”?")
    expect(page.locator("#consequences")).to_contain_text(f"Every bot or script that sends "
                                                          f"{bot2[:15]}…")
    expect(page.locator("#consequences")).to_contain_text("(acting as bot2) gets 401")
    assert_shows_no_secret(page, bot2)
    page.click("#cancel")
    with scene.server.api(bot2) as client:
        assert client.get("/connections").status_code == 200

    row.locator("a:has-text('Revoke')").click()
    page.click("#confirm")
    expect(page.locator(".notice.ok")).to_contain_text("was revoked")
    with scene.server.api(bot2) as client:
        assert client.get("/connections").status_code == 401
    traffic.assert_only_to(scene.url)
