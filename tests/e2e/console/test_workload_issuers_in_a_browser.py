"""Administration > Workload issuers in a real browser: each rule in plain words, and a
pasted workload token checked against them (which rule maps it, why the others do not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from browser_support import Scene, sign_in
from playwright.sync_api import expect

from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE
from support.workload import AUDIENCE, PLATFORM_OPTIONS, workload_jwt


def test_an_admin_checks_a_pasted_token_against_the_rules(
    scene: Scene, page: Any, start_authorization_server: Callable[..., AuthorizationServer]
) -> None:
    platform = start_authorization_server(**PLATFORM_OPTIONS)
    scene.admin.post("/workload-issuers", json={
        "name": "ci", "issuer": platform.issuer, "audiences": [AUDIENCE]}).raise_for_status()
    for client_id, target in (("runner", {"acts_as": "workload", "workload": "runner",
                                          "roles": [BOT_ROLE]}),
                              ("stranger", {"acts_as": "user", "user": "bot"})):
        scene.admin.post("/workload-issuers/ci/rules", json={
            "conditions": [{"claim": "client_id", "equals": client_id}], **target,
        }).raise_for_status()
    token = workload_jwt(platform)

    sign_in(page, scene.url, "admin")
    page.click("a:has-text('Workload issuers')")
    expect(page.locator(".rules")).to_contain_text(
        f'When client_id is "runner", act as workload runner with roles: {BOT_ROLE}.')
    page.fill("#f-token", token)
    page.click("button:has-text('Check')")

    expect(page.locator("#matched")).to_contain_text(
        f"Maps to workload runner with roles: {BOT_ROLE}")
    expect(page.locator("#not-matched")).to_contain_text(
        'Not this one: client_id is "runner", not as required (client_id is "stranger").')
    assert token not in page.content()  # the pasted token is never shown back

    page.fill("#f-token", "eyJhbGciOiJub25lIn0.e30.")
    page.click("button:has-text('Check')")
    expect(page.locator("[data-field=token]")).to_contain_text("The exchange would refuse")


def test_an_admin_adds_an_issuer_and_its_rule_with_forms_then_edits_and_deletes_them(
    scene: Scene, page: Any, start_authorization_server: Callable[..., AuthorizationServer]
) -> None:
    platform = start_authorization_server(**PLATFORM_OPTIONS)
    token = workload_jwt(platform)
    sign_in(page, scene.url, "admin")
    page.locator("a:has-text('Workload issuers')").first.click()

    page.fill("#f-name", "ci")
    page.fill("#f-issuer", platform.issuer)
    page.fill("#f-audiences", "nobody-else")  # changed below, through the settings form
    page.click("button:has-text('Add issuer')")
    expect(page.locator(".notice").first).to_contain_text(
        "The workload issuer 'ci' is trusted")
    page.fill("#f-conditions", "client_id==runner")
    page.check("#f-acts-workload")
    page.fill("#f-workload", "runner")
    page.check(f"input[name=roles][value='{BOT_ROLE}']")
    page.click("button:has-text('Add rule')")
    expect(page.locator("#rules")).to_contain_text(
        f'When client_id is "runner", act as workload runner with roles: {BOT_ROLE}.')
    page.fill("#f-audiences", "")
    page.click("#issuer-settings button:has-text('Save')")
    expect(page.locator("[data-field=audiences]")).to_contain_text(
        "Enter at least one audience")
    expect(page.locator("#f-name")).to_have_value("ci")  # what was typed is kept
    page.fill("#f-audiences", AUDIENCE)
    page.click("#issuer-settings button:has-text('Save')")
    expect(page.locator("body")).to_contain_text("The workload issuer was saved.")

    page.locator("a:has-text('Workload issuers')").first.click()
    page.fill("#f-token", token)
    page.click("button:has-text('Check')")
    expect(page.locator("#matched")).to_contain_text(
        f"Maps to workload runner with roles: {BOT_ROLE}")

    page.click("a:has-text('Edit ci and its rules')")
    page.click("#rules a:has-text('Edit')")
    page.fill("#f-conditions", "client_id==stranger")
    page.click("button:has-text('Save rule')")
    expect(page.locator("#rules")).to_contain_text('When client_id is "stranger"')
    page.locator("a:has-text('Workload issuers')").first.click()
    page.fill("#f-token", token)
    page.click("button:has-text('Check')")
    expect(page.locator("#matched")).to_contain_text("No rule maps this token.")

    page.click("a:has-text('Edit ci and its rules')")
    page.click("button:has-text('Delete issuer')")
    expect(page.locator("#no-issuers")).to_be_visible()
