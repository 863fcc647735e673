"""An administrator gives a connection its own proxy on its page, in a real browser, and the
test of the connection goes through that real proxy and says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import Scene, Traffic, assert_shows_no_secret, sign_in
from playwright.sync_api import expect

from support.forward_proxy import ForwardProxy

OWN_PASSWORD = "0n-prem-br0wser-pa55"


@pytest.fixture
def own_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(tmp_path, username="onprem", password=OWN_PASSWORD).start()
    yield proxy
    proxy.stop()


def test_an_admin_sets_a_connection_s_own_proxy_and_its_test_goes_through_it(
    scene: Scene, page: Any, own_proxy: ForwardProxy
) -> None:
    client = scene.oauth.clients["cc-basic"]
    created = scene.admin.post("/connections", json={
        "name": "On-prem API", "provider": "custom", "grant_type": "client_credentials",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "token_url": scene.oauth.token_endpoint, "scopes": "api:read",
        "client_auth_method": client.token_endpoint_auth_method})
    assert created.status_code == 201, created.text
    traffic = Traffic(page)
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/connections/On-prem%20API")
    expect(page.locator("#connection-proxy")).to_contain_text("the forward proxy")

    page.check("#f-proxy_mode-own")
    page.fill("#f-proxy_url", f"http://127.0.0.1:{own_proxy.port}")
    page.fill("#f-proxy_username", own_proxy.username)
    page.fill("#f-proxy_password", OWN_PASSWORD)
    page.click("#save-connection-proxy")

    expect(page.locator("#connection-proxy")).to_contain_text(
        f"its own: http://127.0.0.1:{own_proxy.port} as onprem")
    expect(page.locator("#f-proxy_password")).to_have_value("")
    page.click("button:has-text('Test connection')")
    expect(page.locator("main")).to_contain_text(
        f"reached through the proxy at 127.0.0.1:{own_proxy.port}")
    scene.server.td.outbound.close()  # the proxy logs a request when its connection closes
    assert own_proxy.requests_to(urlsplit(scene.oauth.issuer).netloc)
    assert_shows_no_secret(page, OWN_PASSWORD)
    traffic.assert_only_to(scene.url)
