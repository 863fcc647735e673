"""The start page in headless Chromium: after the real authorization server revoked a
connection's grant, the administrator's attention list shows that the shared token needs
consent (with the client secret due to expire soon), its counts by state (of the items, and of
the connections' shared tokens), and a Fix link to the connection's page. The screenshot is the one in the README."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
from browser_support import (
    REPO_ROOT,
    Scene,
    assert_every_input_is_labelled,
    assert_shows_no_secret,
    consent_at_the_provider,
    screenshot,
    sign_in,
)
from playwright.sync_api import expect

from support.desk import BOT_ROLE
from support.tokendesk_server import Clock
from tokendesk.domain.tokens import TokenKind
from tokendesk.storage.tokens import TokenRepository
from tokendesk.tokens.vault import TokenVault

README_SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "attention-list.png"
ONE_HOUR_S = 3600


def graph_with_a_shared_token(scene: Scene, page: Any) -> str:
    """The connection Graph (its client secret expiring in 5 days) with a shared token an
    administrator consented to in the browser; returns the client secret."""
    client = scene.oauth.clients["code-post"]
    expires_on = (scene.server.td.clock().date() + timedelta(days=5)).isoformat()
    created = scene.admin.post("/connections", json={
        "name": "Graph", "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "client_secret_expires_on": expires_on,
        "authorization_url": scene.oauth.authorization_endpoint + "?prompt=consent",
        "token_url": scene.oauth.token_endpoint, "scopes": "openid offline_access api:read",
        "client_auth_method": "client_secret_post", "invited_roles": [BOT_ROLE]})
    assert created.status_code == 201, created.text
    scene.oauth.register_client(replace(client, redirect_uris=(
        *client.redirect_uris, created.json()["callback_url"])))
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/connections/Graph")
    page.check("#f-save_credentials")
    page.click("button:has-text('Test connection')")
    consent_at_the_provider(page, "alice")
    expect(page.locator(".verdict")).to_contain_text("The connection works")
    return client.client_secret or ""


def revoke_at_the_provider(scene: Scene) -> None:
    """The grant ends at the authorization server, as when a person removes the app's access
    there: its refresh token is revoked at the server's revocation endpoint (RFC 7009)."""
    td = scene.server.td
    with td.transaction() as tx:
        (row,) = [r for r in TokenRepository(tx).list_all() if r.kind is TokenKind.SHARED]
        record = TokenRepository(tx).get(row.id)
    assert record is not None
    refresh_token = TokenVault(td.keyring).refresh_token(record)
    assert refresh_token is not None
    client = scene.oauth.clients["code-post"]
    revoked = httpx.post(scene.oauth.revocation_endpoint, data={
        "token": refresh_token.reveal(), "token_type_hint": "refresh_token",
        "client_id": client.client_id, "client_secret": client.client_secret})
    assert revoked.status_code == 200, revoked.text


def test_a_grant_revoked_at_the_provider_shows_on_the_start_page_with_its_fix(
    scene: Scene, page: Any,
) -> None:
    secret = graph_with_a_shared_token(scene, page)
    revoke_at_the_provider(scene)
    clock = scene.server.td.clock
    assert isinstance(clock, Clock)
    clock.advance(ONE_HOUR_S + 60)  # the access token expired: the next handout refreshes
    refused = scene.bot.get("/connections/Graph/token", params={"token_type": "shared"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "reauthentication_required"

    page.goto(scene.url + "/")

    expect(page).to_have_url(scene.url + "/attention")
    rows = page.locator("#attention tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Needs consent")
    expect(rows.nth(0)).to_contain_text("The shared token can no longer be refreshed")
    expect(rows.nth(0)).to_contain_text("an administrator with Manage connections")
    expect(rows.nth(1)).to_contain_text("Secret expiring")
    expect(rows.nth(1)).to_contain_text("(entered by an administrator)")
    counts = page.locator("#attention-counts")
    expect(counts.locator("[data-state=needs_consent]")).to_contain_text("1 Needs consent")
    expect(counts.locator("[data-state=secret_expiring]")).to_contain_text("1 Secret expiring")
    expect(counts.locator("[data-state=backing_off]")).to_contain_text("0 Backing off")
    by_token = page.locator("#connection-counts")
    expect(by_token.locator("[data-state=attention]")).to_contain_text("1 Needs attention")
    expect(by_token.locator("[data-state=valid]")).to_contain_text("0 Valid")
    assert_shows_no_secret(page, secret)
    shutil.copyfile(screenshot(page, "attention-list"), README_SCREENSHOT)

    rows.nth(0).locator("a:has-text('Fix')").click()

    expect(page).to_have_url(scene.url + "/connections/Graph")
    expect(page.locator("#shared-token")).to_contain_text("Needs consent")  # the one vocabulary of states
    expect(page.locator("#forecasts")).to_contain_text("Client secret expires on")
    assert_every_input_is_labelled(page)
