"""Network guidance that does not contradict itself: a cloud metadata address is refused
saying why (never "add it to the egress allowlist", which refuses it); the proxy's Host and
Port say they are required to use a proxy; *Test proxy* tries the saved proxy for real,
through the real forward proxy of tests/support/forward_proxy.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import Scene, Traffic, assert_shows_no_secret, sign_in
from playwright.sync_api import expect

from support.forward_proxy import ForwardProxy

PROXY_PASSWORD = "pr0xy-pa55-word"


@pytest.fixture
def forward_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(tmp_path, username="egress", password=PROXY_PASSWORD).start()
    yield proxy
    proxy.stop()


def use_proxy(scene: Scene, proxy: ForwardProxy, password: str) -> None:
    saved = scene.admin.put("/settings/proxy", json={
        "enabled": True, "scheme": "http", "host": "127.0.0.1", "port": proxy.port,
        "auth": "basic", "username": proxy.username, "password": password, "bypass": []})
    assert saved.status_code == 200, saved.text


def test_a_cloud_metadata_token_url_is_refused_saying_why_not_to_allowlist_it(
    scene: Scene, page: Any,
) -> None:
    traffic = Traffic(page)
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    page.select_option("#f-provider", "custom")
    page.fill("#f-name", "Metadata")
    page.click("#next")
    page.check("#f-grant_type-client_credentials")
    page.fill("#f-client_id", "x")
    page.fill("#f-client_secret", "y")
    page.fill("#f-token_url", "https://169.254.169.254/latest/token")
    page.click("#next")

    error = page.locator("[data-field=token_url] .field-error")
    expect(error).to_contain_text("link-local or cloud metadata address")
    expect(error).to_contain_text("the egress allowlist cannot allow them")
    expect(error).not_to_contain_text("adds it")
    expect(error).not_to_contain_text("TOKENDESK_EGRESS_ALLOWLIST")
    page.goto(scene.url + "/admin/network")
    expect(page.locator("#egress")).to_contain_text("cannot be listed here")
    traffic.assert_only_to(scene.url)


def test_the_proxy_host_and_port_are_required_to_use_a_proxy_and_both_are_named(
    scene: Scene, page: Any,
) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/admin/network")
    for field in ("host", "port"):
        label = page.locator(f"label[for=f-{field}]")
        expect(label).to_contain_text("(required to use a proxy)")
        expect(label).not_to_contain_text("optional")

    page.check("#f-enabled")
    page.click("button:has-text('Save')")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter the proxy's host to use a proxy.")
    expect(summary).to_contain_text("Enter the proxy's port to use a proxy.")


def test_test_proxy_reaches_an_address_through_the_saved_proxy_and_names_a_refusal(
    scene: Scene, page: Any, forward_proxy: ForwardProxy,
) -> None:
    traffic = Traffic(page)
    use_proxy(scene, forward_proxy, PROXY_PASSWORD)
    target = scene.oauth.issuer + "/.well-known/openid-configuration"
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/admin/network")

    page.fill("#f-target", target)
    page.click("#test-proxy")
    verdict = page.locator("#proxy-verdict")
    expect(verdict).to_contain_text("The proxy works")
    expect(verdict).to_contain_text("HTTP status 200")
    scene.server.td.outbound.close()  # the proxy logs a request when its connection closes
    assert forward_proxy.requests_to(urlsplit(scene.oauth.issuer).netloc)

    use_proxy(scene, forward_proxy, "not-the-proxy-password")
    page.fill("#f-target", target)
    page.click("#test-proxy")
    expect(verdict).to_contain_text("The test failed")
    expect(verdict).to_contain_text("refused its credentials (HTTP 407)")
    assert_shows_no_secret(page, PROXY_PASSWORD, "not-the-proxy-password")
    traffic.assert_only_to(scene.url)


def test_test_proxy_without_a_proxy_in_use_says_to_set_one_up(scene: Scene, page: Any) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/admin/network")
    page.fill("#f-target", scene.oauth.token_endpoint)
    page.click("#test-proxy")

    expect(page.locator("#proxy-verdict")).to_contain_text("No forward proxy is in use")
