"""The wizard in headless Chromium tells the truth before anything is saved (issue 14, items
2, 3 and 11): the real URLs once the placeholders are typed, a test that saves nothing, a
Cancel that leaves nothing, a review that says what was tested; and an administrator who
sees and revokes one user's token, while an invited user sees no settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from browser_support import Scene, assert_shows_no_secret, consent_at_the_provider, sign_in
from playwright.sync_api import expect
from test_console_in_a_browser import fill_settings, register_callback_url

from support.api import ADMIN_PASSWORD, make_user
from support.desk import BOT_ROLE

SALESFORCE_TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"
SALESFORCE_AUTHORIZE_URL = "https://acme.my.salesforce.com/services/oauth2/authorize"


def record_hosts(page: Any) -> set[str]:
    """Every host the page asks for something, filled in as the test goes."""
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    return hosts


def connection_names(scene: Scene) -> list[str]:
    listed = scene.admin.get("/connections")
    assert listed.status_code == 200, listed.text
    return [c["name"] for c in listed.json()]


def test_steps_three_and_five_show_the_salesforce_address_typed_in_step_two(
    scene: Scene, page: Any,
) -> None:
    hosts = record_hosts(page)
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    fill_settings(page, "CRM", provider="salesforce")
    page.click("#next")
    expect(page.locator("#f-token_url")).to_have_value(
        "https://<yourinstance>.salesforce.com/services/oauth2/token")
    page.check("#f-grant_type-authorization_code")
    page.fill("#f-client_id", "3MVG9-crm")
    page.fill("#f-client_secret", "a-secret-typed-once")
    page.fill("#f-placeholder-yourinstance", "acme.my")
    page.click("#next")

    expect(page.locator("#token-url")).to_have_text(SALESFORCE_TOKEN_URL)
    expect(page.locator("#authorization-url")).to_have_text(SALESFORCE_AUTHORIZE_URL)
    page.click("#next")
    page.click("#next")
    expect(page.locator("#token-url")).to_have_text(SALESFORCE_TOKEN_URL)
    expect(page.locator("#authorization-url")).to_have_text(SALESFORCE_AUTHORIZE_URL)
    expect(page.locator("#summary")).not_to_contain_text("<yourinstance>")
    page.click("ol.steps a:has-text('Authentication details')")
    expect(page.locator("#filled-token_url")).to_contain_text(SALESFORCE_TOKEN_URL)

    assert hosts == {urlsplit(scene.url).netloc}  # nothing but Tokendesk itself
    assert_shows_no_secret(page, "a-secret-typed-once")


def test_a_test_of_a_new_connection_saves_nothing_and_cancel_leaves_nothing(
    scene: Scene, page: Any,
) -> None:
    secret = scene.oauth.clients["cc-basic"].client_secret or ""
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    fill_settings(page, "Billing API")
    page.click("#next")
    page.check("#f-grant_type-client_credentials")
    page.fill("#f-client_id", "cc-basic")
    page.fill("#f-client_secret", secret)
    page.fill("#f-token_url", scene.oauth.token_endpoint)
    page.fill("#f-scopes", "api:read")
    page.click("#next")

    expect(page.locator("#save-and-test")).to_have_text("Test connection")
    page.click("#save-and-test")
    expect(page.locator("#verdict")).to_contain_text("The connection works")
    assert connection_names(scene) == []
    assert scene.oauth.token_calls("client_credentials") == 1  # a real token request
    page.click("#next")
    page.click("#next")
    expect(page.locator("#review-test")).to_have_text("passed")
    expect(page.locator("#review-shared-token")).to_have_text(
        "no — each user authenticates himself")
    page.click("#cancel-wizard")

    expect(page).to_have_url(scene.url + "/connections")
    assert connection_names(scene) == []
    assert_shows_no_secret(page, secret)


def test_a_consent_test_saves_only_when_chosen_and_cancel_deletes_it(
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
    page.click("#next")
    page.click("#next")
    expect(page.locator("#review-test")).to_have_text("not tested")
    page.click("#back")
    page.click("#back")

    expect(page.locator("#save-and-test")).to_have_text("Save and test connection")
    expect(page.locator("#test-hint")).to_contain_text("saves it")
    page.check("#f-save_credentials")
    page.click("#save-and-test")
    consent_at_the_provider(page, "alice")
    page.click("#continue")
    expect(page.locator("#verdict")).to_contain_text("The shared token is saved")
    assert connection_names(scene) == ["Graph"]
    page.click("#next")
    page.click("#next")
    expect(page.locator("#review-test")).to_have_text("passed")
    expect(page.locator("#review-shared-token")).to_contain_text("yes — valid")
    page.click("#cancel-wizard")

    expect(page.locator(".notice", has_text="saved for its test only")).to_be_visible()
    assert connection_names(scene) == []
    assert_shows_no_secret(page, secret)


def test_an_administrator_revokes_one_users_token_and_an_invited_user_sees_no_settings(
    scene: Scene, page: Any, chromium: Any,
) -> None:
    client = scene.oauth.clients["code-post"]
    created = scene.admin.post("/connections", json={
        "name": "Graph", "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "authorization_url": scene.oauth.authorization_endpoint + "?prompt=consent",
        "token_url": scene.oauth.token_endpoint, "scopes": "openid offline_access api:read",
        "revocation_url": scene.oauth.revocation_endpoint,
        "client_auth_method": "client_secret_post", "invited_roles": [BOT_ROLE]})
    assert created.status_code == 201, created.text
    register_callback_url(scene, "code-post", created.json()["callback_url"])
    carol_key = make_user(scene.server.td, "carol", roles=[BOT_ROLE])
    sign_in(page, scene.url, "carol", ADMIN_PASSWORD)
    page.goto(scene.url + "/connections/Graph")
    expect(page).to_have_url(scene.url + "/my/connections/Graph")
    assert "code-post" not in page.content()  # no client ID, no URLs
    assert scene.oauth.token_endpoint not in page.content()
    page.click("#my-token button:has-text('Login')")
    consent_at_the_provider(page, "carol")
    page.click("#continue")
    expect(page.locator("#my-token")).to_contain_text("Valid")

    admin_context = chromium.new_context()
    admin_page = admin_context.new_page()
    sign_in(admin_page, scene.url, "admin")
    admin_page.goto(scene.url + "/connections/Graph")
    row = admin_page.locator("tr[data-user=carol]")
    expect(row).to_contain_text("Valid")
    row.locator("a:has-text('Revoke')").click()
    expect(admin_page.locator("h1")).to_contain_text("Revoke the token of “carol”?")
    admin_page.click("#confirm-revoke")
    expect(admin_page.locator(".notice.ok")).to_contain_text("revoked and deleted")
    expect(admin_page.locator("tr[data-user=carol]")).to_have_count(0)
    admin_context.close()

    with scene.server.api(carol_key) as carol:
        refused = carol.get("/connections/Graph/token", params={"token_type": "user"})
    assert refused.status_code == 409, refused.text
    assert scene.oauth.requests("revocation"), "the provider was asked to revoke the token"
    page.reload()
    expect(page.locator("#my-token")).to_contain_text("Not connected")
