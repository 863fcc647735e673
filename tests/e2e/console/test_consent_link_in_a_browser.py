"""A one-time consent link in headless Chromium: the link of a user-specific token is
completed only by its own Tokendesk user -- signed out, it asks him to sign in and then
continues; in another user's session it is refused -- and it names the user and the
connection before going to the (real) authorization server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from browser_support import Scene, consent_at_the_provider, screenshot, sign_in
from playwright.sync_api import expect

from support.api import ADMIN_PASSWORD, make_user
from support.desk import BOT_ROLE


@pytest.fixture
def carols_link(scene: Scene) -> tuple[str, str]:
    """The connection Graph (invited: BOT_ROLE), carol and dave invited; carol's one-time
    link for her own token, asked for with her API key. Returns (link, carol's key)."""
    client = scene.oauth.clients["code-post"]
    created = scene.admin.post("/connections", json={
        "name": "Graph", "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "authorization_url": scene.oauth.authorization_endpoint + "?prompt=consent",
        "token_url": scene.oauth.token_endpoint, "scopes": "openid offline_access api:read",
        "client_auth_method": "client_secret_post", "invited_roles": [BOT_ROLE]})
    assert created.status_code == 201, created.text
    scene.oauth.register_client(replace(client, redirect_uris=(
        *client.redirect_uris, created.json()["callback_url"])))
    carol_key = make_user(scene.server.td, "carol", roles=[BOT_ROLE])
    make_user(scene.server.td, "dave", roles=[BOT_ROLE])
    with scene.server.api(carol_key) as carol:
        link = carol.post("/connections/Graph/authorize", json={"token_type": "user"})
    assert link.status_code == 200, link.text
    return str(link.json()["url"]), carol_key


def test_a_link_opened_signed_out_asks_its_user_to_sign_in_then_saves_her_token(
    scene: Scene, page: Any, carols_link: tuple[str, str],
) -> None:
    link, carol_key = carols_link

    page.goto(link)
    expect(page.locator("h1")).to_have_text("Sign in to continue")
    expect(page.locator("#link-user")).to_have_text("carol")
    expect(page.locator("#link-connection")).to_have_text("Graph")
    screenshot(page, "consent-link-sign-in-first")
    page.click("#sign-in")
    page.fill("#f-username", "carol")
    page.fill("#f-password", ADMIN_PASSWORD)
    page.click("button:has-text('Sign in')")

    expect(page.locator("h1")).to_have_text("Connect Graph")  # back on the link: it continues
    expect(page.locator("#link-user")).to_have_text("carol")
    screenshot(page, "consent-link-confirm")
    page.click("#continue-to-provider")
    consent_at_the_provider(page, "carol")
    expect(page.locator(".verdict")).to_contain_text("Your token is saved")
    with scene.server.api(carol_key) as carol:
        token = carol.get("/connections/Graph/token", params={"token_type": "user"})
    assert token.status_code == 200, token.text


def test_a_link_opened_in_another_users_session_is_refused(
    scene: Scene, page: Any, carols_link: tuple[str, str],
) -> None:
    link, carol_key = carols_link
    sign_in(page, scene.url, "dave")

    response = page.goto(link)

    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("This link is for another user")
    expect(page.locator("#link-user")).to_have_text("carol")
    expect(page.locator("#you")).to_have_text("dave")
    screenshot(page, "consent-link-another-user")
    assert scene.oauth.token_calls() == 0
    with scene.server.api(carol_key) as carol:
        token = carol.get("/connections/Graph/token", params={"token_type": "user"})
    assert token.status_code == 409
