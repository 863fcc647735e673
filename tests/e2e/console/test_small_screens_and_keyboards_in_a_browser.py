"""Small screens and keyboards (WCAG 2.2 AA): at 390 px nothing scrolls sideways and My
settings > OAuth connections shows its button; in the wizard Back comes before Next in the
tab order; the focus ring and input borders have at least 3:1 contrast (1.4.11, 2.4.7); a
favicon is served from the package, so no page has a 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import STEP_TIMEOUT_MS, Scene, Traffic, contrast, sign_in
from playwright.sync_api import expect

from support.api import make_user
from support.desk import BOT_ROLE

PHONE = {"width": 390, "height": 844}
MIN_CONTRAST = 3.0
SIDEWAYS_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A 390x844 viewport, as a phone."""
    context = chromium.new_context(viewport=PHONE)
    tab = context.new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    yield tab
    context.close()


def code_flow_connection(scene: Scene, name: str) -> None:
    client = scene.oauth.clients["code-post"]
    created = scene.admin.post("/connections", json={
        "name": name, "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "authorization_url": scene.oauth.authorization_endpoint,
        "token_url": scene.oauth.token_endpoint, "scopes": "openid offline_access api:read",
        "description": "A long description that would widen a table cell on a small phone",
        "invited_roles": [BOT_ROLE]})
    assert created.status_code == 201, created.text


def test_at_390_px_nothing_scrolls_sideways_and_my_connections_shows_its_button(
    scene: Scene, phone: Any,
) -> None:
    traffic = Traffic(phone)
    code_flow_connection(scene, "Graph for the whole sales organisation")
    make_user(scene.server.td, "carol", roles=[BOT_ROLE])
    sign_in(phone, scene.url, "carol")
    expect(phone).to_have_url(scene.url + "/attention")  # the start page, also at 390 px
    assert phone.evaluate(SIDEWAYS_JS) <= 0
    phone.goto(scene.url + "/my/connections")

    login = phone.locator("#my-connections button:has-text('Login')")
    expect(login).to_be_visible()
    expect(login).to_be_in_viewport()
    box = login.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert phone.evaluate(SIDEWAYS_JS) <= 0
    phone.goto(scene.url + "/api-keys")
    expect(phone.locator("#api-keys")).to_be_visible()
    assert phone.evaluate(SIDEWAYS_JS) <= 0

    sign_in(phone, scene.url, "admin")
    for path in ("/attention", "/connections", "/api-keys", "/connections/Graph for the whole sales "
                 "organisation", "/admin/users", "/admin/network", "/wizard/new"):
        phone.goto(scene.url + path)
        assert phone.evaluate(SIDEWAYS_JS) <= 0, f"{path} scrolls sideways at 390 px"
    traffic.assert_only_to(scene.url)
    traffic.assert_nothing_missing()


def test_in_the_wizard_back_comes_before_next_and_enter_still_means_next(
    scene: Scene, page: Any,
) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    page.select_option("#f-provider", "custom")
    page.fill("#f-name", "Keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("h2#step-title")).to_have_text("Authentication details")

    page.focus("#back")
    page.keyboard.press("Tab")
    expect(page.locator("#next")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#back")).to_be_focused()
    back, next_ = page.locator("#back").bounding_box(), page.locator("#next").bounding_box()
    assert back is not None and next_ is not None and back["x"] < next_["x"]  # as read

    page.check("#f-grant_type-client_credentials")
    page.fill("#f-client_id", "cc-basic")
    page.fill("#f-client_secret", scene.oauth.clients["cc-basic"].client_secret or "")
    page.fill("#f-token_url", scene.oauth.token_endpoint)
    page.focus("#f-token_url")
    page.keyboard.press("Enter")  # submits Next, not Back, though Back comes first
    expect(page.locator("h2#step-title")).to_have_text("Test connection and save credentials")


def computed(page: Any, selector: str, prop: str) -> str:
    return str(page.eval_on_selector(selector, f"el => getComputedStyle(el).{prop}"))


def test_the_focus_ring_and_input_borders_have_3_to_1_contrast(scene: Scene, page: Any) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/api-keys")
    card = computed(page, "section.card", "backgroundColor")
    body = computed(page, "body", "backgroundColor")

    border = computed(page, "#f-name", "borderTopColor")
    assert contrast(border, card) >= MIN_CONTRAST, border
    page.focus("#f-name")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard: :focus-visible
    expect(page.locator("#f-name")).to_be_focused()
    ring = computed(page, "#f-name", "outlineColor")
    assert computed(page, "#f-name", "outlineStyle") == "solid"
    assert contrast(ring, card) >= MIN_CONTRAST, ring
    assert contrast(ring, body) >= MIN_CONTRAST, ring

    header = computed(page, "header.top", "backgroundColor")
    page.focus("nav.menu a")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    ring_on_dark = str(page.evaluate("() => getComputedStyle(document.activeElement)"
                                     ".outlineColor"))
    assert page.evaluate("() => document.activeElement.closest('header') !== null")
    assert contrast(ring_on_dark, header) >= MIN_CONTRAST, ring_on_dark


def test_a_favicon_is_served_from_the_package(scene: Scene, page: Any) -> None:
    traffic = Traffic(page)
    sign_in(page, scene.url, "admin")

    icon = page.request.get(scene.url + "/favicon.ico")
    assert icon.status == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/favicon.ico")
    for path in ("/connections", "/my/connections", "/admin/roles", "/sign-in"):
        page.goto(scene.url + path)
    traffic.assert_nothing_missing()
    traffic.assert_only_to(scene.url)
