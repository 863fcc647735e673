"""Issue 12 in headless Chromium: choosing another grant type puts its default scopes in the
Scope field at once, and shows its notes, unless the person typed other scopes."""

from __future__ import annotations

from typing import Any

from browser_support import Scene, sign_in
from playwright.sync_api import expect

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
CODE_FLOW = f"offline_access,openid,{GRAPH_DEFAULT}"


def test_the_scope_field_follows_the_grant_type_until_a_person_types(
    scene: Scene, page: Any,
) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/connections")
    page.click("#create-connection")
    page.select_option("#f-provider", "microsoft_entra")
    page.fill("#f-name", "Graph")
    page.click("#next")
    code_notes = page.locator("[data-grant-notes=authorization_code]")
    credentials_notes = page.locator("[data-grant-notes=client_credentials]")
    expect(page.locator("#f-scopes")).to_have_value(CODE_FLOW)
    expect(credentials_notes).to_be_hidden()

    page.check("#f-grant_type-client_credentials")
    expect(page.locator("#f-scopes")).to_have_value(GRAPH_DEFAULT)
    expect(credentials_notes).to_be_visible()
    expect(code_notes).to_be_hidden()
    page.check("#f-grant_type-authorization_code")
    expect(page.locator("#f-scopes")).to_have_value(CODE_FLOW)

    page.fill("#f-scopes", "User.Read")
    page.check("#f-grant_type-client_credentials")
    expect(page.locator("#f-scopes")).to_have_value("User.Read")  # typed: kept
