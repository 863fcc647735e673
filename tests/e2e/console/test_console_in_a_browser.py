"""The console in headless Chromium, end to end against the real authorization server: the
Create connection wizard for both grant types, a user's own token from My settings,
permissions and validation errors. Every page is searched for the client secret."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from browser_support import (
    Scene,
    assert_every_input_is_labelled,
    assert_shows_no_secret,
    consent_at_the_provider,
    screenshot,
    sign_in,
)
from playwright.sync_api import expect

from support.api import ADMIN_PASSWORD, make_user
from support.desk import BOT_ROLE


def fill_settings(page: Any, name: str, provider: str = "custom",
                  description: str = "") -> None:
    assert_every_input_is_labelled(page)
    page.select_option("#f-provider", provider)
    page.fill("#f-name", name)
    page.fill("#f-description", description)


def register_callback_url(scene: Scene, client_id: str, callback_url: str) -> None:
    """Add a connection's own callback URL to its client at the provider, as an admin would."""
    client = scene.oauth.clients[client_id]
    scene.oauth.register_client(
        replace(client, redirect_uris=(*client.redirect_uris, callback_url)))


def test_an_admin_creates_a_client_credentials_connection_and_a_bot_gets_its_token(
    scene: Scene, page: Any,
) -> None:
    secret = scene.oauth.clients["cc-basic"].client_secret or ""
    sign_in(page, scene.url, "admin")
    expect(page.locator("#attention-empty")).to_contain_text("Nothing needs your attention")
    page.goto(scene.url + "/connections")
    expect(page.locator(".empty")).to_contain_text("No OAuth connections yet")
    screenshot(page, "connections-empty")

    page.click("#create-connection")
    fill_settings(page, "Billing API", description="Invoices for the billing bots")
    expect(page.locator("#callback-url")).to_have_value(  # the connection's own
        re.compile(re.escape(scene.server.callback_url) + "/[0-9a-f]{32}$"))
    screenshot(page, "wizard-1-connection-settings")
    page.click("#next")

    page.check("#f-grant_type-client_credentials")
    expect(page.locator("#f-authorization_url")).to_be_hidden()  # code flow only
    page.fill("#f-client_id", "cc-basic")
    page.fill("#f-client_secret", secret)
    page.fill("#f-token_url", scene.oauth.token_endpoint)
    page.fill("#f-scopes", "api:read")
    screenshot(page, "wizard-2-authentication-details")
    assert_shows_no_secret(page, secret)
    assert_every_input_is_labelled(page)
    page.click("#next")

    assert_shows_no_secret(page, secret)
    page.check("#f-save_credentials")
    page.click("#save-and-test")
    expect(page.locator("#verdict")).to_contain_text("The connection works")
    expect(page.locator("#verdict")).to_contain_text("Nothing is saved")  # until Create
    screenshot(page, "wizard-3-test-connection")
    assert_shows_no_secret(page, secret)
    assert_every_input_is_labelled(page)
    page.click("#next")

    page.fill("#f-q", "sales")
    page.check(f"input[name=role][value='{BOT_ROLE}']")
    screenshot(page, "wizard-4-invite-roles")
    assert_every_input_is_labelled(page)
    page.click("#next")
    expect(page.locator("#summary")).to_contain_text(BOT_ROLE)
    screenshot(page, "wizard-5-create-connection")
    assert_shows_no_secret(page, secret)
    page.click("#create")

    expect(page.locator(".notice.ok", has_text="was created")).to_be_visible()
    expect(page.locator(".notice.ok", has_text="shared token is saved")).to_be_visible()
    expect(page.locator("#shared-token")).to_contain_text("Valid")
    assert_every_input_is_labelled(page)
    token = scene.bot.get("/connections/Billing API/token", params={"token_type": "shared"})
    assert token.status_code == 200, token.text
    page.reload()
    screenshot(page, "connection-page")
    assert_shows_no_secret(page, secret, token.json()["access_token"])
    page.goto(scene.url + "/connections")
    expect(page.locator("#connections")).to_contain_text("Billing API")
    screenshot(page, "connections-list")


def test_an_authorization_code_connection_with_saved_login_credentials_gets_a_shared_token(
    scene: Scene, page: Any,
) -> None:
    secret = scene.oauth.clients["code-basic"].client_secret or ""
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    fill_settings(page, "Graph")
    register_callback_url(scene, "code-basic", page.input_value("#callback-url"))
    page.click("#next")

    page.check("#f-grant_type-authorization_code")
    page.fill("#f-client_id", "code-basic")
    page.fill("#f-client_secret", secret)
    page.fill("#f-authorization_url", scene.oauth.authorization_endpoint + "?prompt=consent")
    page.fill("#f-token_url", scene.oauth.token_endpoint)
    page.fill("#f-scopes", "openid,offline_access,api:read")
    page.click("#next")
    page.check("#f-save_credentials")
    page.click("#save-and-test")

    consent_at_the_provider(page, "alice")
    expect(page.locator(".verdict")).to_contain_text("The connection works")
    screenshot(page, "consent-result")
    assert_shows_no_secret(page, secret)
    page.click("#continue")
    expect(page.locator("#verdict")).to_contain_text("The shared token is saved")
    expect(page.locator("#shared-state")).to_contain_text("Valid")
    screenshot(page, "wizard-3-after-consent")
    page.click("#next")
    page.check(f"input[name=role][value='{BOT_ROLE}']")
    page.click("#next")
    page.click("#create")

    expect(page.locator("#shared-token")).to_contain_text("Valid")
    expect(page.locator("#shared-token")).to_contain_text("yes, it has a refresh token")
    token = scene.bot.get("/connections/Graph/token", params={"token_type": "shared"})
    assert token.status_code == 200, token.text
    page.reload()
    assert_shows_no_secret(page, secret, token.json()["access_token"])


def test_an_invited_user_authenticates_his_own_token_from_my_settings(
    scene: Scene, page: Any,
) -> None:
    client = scene.oauth.clients["code-post"]
    created = scene.admin.post("/connections", json={
        "name": "Graph", "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "authorization_url": scene.oauth.authorization_endpoint + "?prompt=consent",
        "token_url": scene.oauth.token_endpoint, "scopes": "openid offline_access api:read",
        "client_auth_method": "client_secret_post", "invited_roles": [BOT_ROLE]})
    assert created.status_code == 201, created.text
    register_callback_url(scene, "code-post", created.json()["callback_url"])
    carol_key = make_user(scene.server.td, "carol", roles=[BOT_ROLE])
    sign_in(page, scene.url, "carol", ADMIN_PASSWORD)

    expect(page).to_have_url(scene.url + "/attention")  # the start page: nothing needs her
    page.goto(scene.url + "/my/connections")
    expect(page.locator("#my-connections")).to_contain_text("Not connected")
    screenshot(page, "my-connections")
    page.click("#my-connections button:has-text('Login')")
    consent_at_the_provider(page, "carol")
    page.click("#continue")

    expect(page).to_have_url(scene.url + "/my/connections/Graph")
    expect(page.locator("#my-token")).to_contain_text("Valid")
    screenshot(page, "my-connection-authenticated")
    with scene.server.api(carol_key) as carol:
        token = carol.get("/connections/Graph/token", params={"token_type": "user"})
    assert token.status_code == 200, token.text
    page.reload()
    assert_shows_no_secret(page, client.client_secret or "", token.json()["access_token"])


def test_a_user_without_manage_connections_cannot_reach_the_wizard(scene: Scene,
                                                                   page: Any) -> None:
    make_user(scene.server.td, "vera", permissions=["oauth_connections.view"])
    sign_in(page, scene.url, "vera")

    page.goto(scene.url + "/connections")
    expect(page.locator("h1")).to_have_text("OAuth connections")
    expect(page.locator("#create-connection")).to_have_count(0)
    response = page.goto(scene.url + "/wizard/new")

    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator(".error-message")).to_contain_text("Manage connections")


def test_validation_errors_appear_next_to_their_fields(scene: Scene, page: Any) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    page.select_option("#f-provider", "salesforce")
    page.fill("#f-name", "Sales/prod")
    page.keyboard.press("Enter")  # Enter submits with the default button, Next

    name_field = page.locator("[data-field=name]")
    expect(name_field.locator(".field-error")).to_contain_text("may contain letters")
    expect(page.locator("#f-name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-name")).to_have_value("Sales/prod")
    page.fill("#f-name", "Sales")
    page.click("#next")

    page.fill("#f-client_id", "3MVG9")
    page.fill("#f-client_secret", "a-secret-typed-once")
    page.click("#next")
    instance = page.locator("[data-field=placeholder-yourinstance]")
    expect(instance.locator(".field-error")).to_contain_text("Fill in <yourinstance>")
    expect(page.locator("#f-client_secret")).to_have_value("")  # never echoed back
    expect(page.locator("[data-field=client_secret] .hint")).to_contain_text(
        "A client secret is held")
    screenshot(page, "wizard-2-validation-errors")
    page.fill("#f-placeholder-yourinstance", "acme.my")
    page.click("#next")

    expect(page.locator("h2#step-title")).to_have_text("Test connection and save credentials")
    assert_shows_no_secret(page, "a-secret-typed-once")
