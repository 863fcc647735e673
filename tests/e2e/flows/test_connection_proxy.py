"""A proxy per connection: through its own proxy, directly, or through the global forward
proxy, with two real forward proxies whose access logs show what went through them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.desk import BOT_ROLE, Desk
from support.forward_proxy import ForwardProxy
from support.tokendesk_server import Clock

GLOBAL_PASSWORD = "gl0bal-pr0xy-pa55"
OWN_PASSWORD = "0n-prem-pr0xy-pa55"


@pytest.fixture
def global_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    (tmp_path / "global").mkdir()
    proxy = ForwardProxy(tmp_path / "global", username="egress", password=GLOBAL_PASSWORD)
    yield proxy.start()
    proxy.stop()


@pytest.fixture
def own_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    (tmp_path / "own").mkdir()
    proxy = ForwardProxy(tmp_path / "own", username="onprem", password=OWN_PASSWORD)
    yield proxy.start()
    proxy.stop()


def use_global_proxy(desk: Desk, proxy: ForwardProxy) -> None:
    response = desk.admin.put("/settings/proxy", json={
        "enabled": True, "scheme": "http", "host": "127.0.0.1", "port": proxy.port,
        "auth": "basic", "username": proxy.username, "password": proxy.password, "bypass": [],
    })
    assert response.status_code == 200, response.text


def through(proxy: ForwardProxy, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "proxy_mode": "own", "proxy_url": f"http://127.0.0.1:{proxy.port}",
        "proxy_username": proxy.username, "proxy_password": proxy.password,
    }
    fields.update(overrides)
    return fields


def server_of(desk: Desk) -> str:
    return urlsplit(desk.oauth.issuer).netloc


def handed_out(desk: Desk, name: str) -> None:
    response = desk.bot.get(f"/connections/{name}/token")
    assert response.status_code == 200, response.text


def test_a_connection_with_its_own_proxy_goes_through_it_while_another_uses_the_global_one(
    desk: Desk, global_proxy: ForwardProxy, own_proxy: ForwardProxy
) -> None:
    use_global_proxy(desk, global_proxy)
    desk.create_connection("On-prem API", "cc-basic", **through(own_proxy))
    desk.create_connection("Cloud API", "cc-basic")

    handed_out(desk, "On-prem API")
    handed_out(desk, "Cloud API")
    desk.server.td.outbound.close()  # a proxy logs a request when its connection closes

    assert len(own_proxy.requests_to(server_of(desk))) == 1
    assert len(global_proxy.requests_to(server_of(desk))) == 1
    assert desk.oauth.token_calls("client_credentials") == 2


def test_the_verdict_says_which_proxy_the_test_went_through(
    desk: Desk, global_proxy: ForwardProxy, own_proxy: ForwardProxy
) -> None:
    use_global_proxy(desk, global_proxy)
    desk.create_connection("On-prem API", "cc-basic", **through(own_proxy))
    desk.create_connection("Cloud API", "cc-basic")

    own = desk.admin.post("/connections/On-prem API/test").json()
    cloud = desk.admin.post("/connections/Cloud API/test").json()

    assert own["ok"] is True, own
    assert f"through the proxy at 127.0.0.1:{own_proxy.port}" in own["message"]
    assert cloud["ok"] is True, cloud
    assert f"through the proxy at 127.0.0.1:{global_proxy.port}" in cloud["message"]
    for verdict in (own, cloud):
        assert OWN_PASSWORD not in str(verdict) and GLOBAL_PASSWORD not in str(verdict)


def test_a_connection_without_a_proxy_goes_directly_even_with_a_global_proxy(
    desk: Desk, global_proxy: ForwardProxy
) -> None:
    use_global_proxy(desk, global_proxy)
    desk.create_connection("Direct API", "cc-basic", proxy_mode="none")

    handed_out(desk, "Direct API")
    verdict = desk.admin.post("/connections/Direct API/test").json()
    desk.server.td.outbound.close()

    assert verdict["ok"] is True, verdict
    assert "reached directly" in verdict["message"]
    assert global_proxy.requests_to(server_of(desk)) == []
    assert desk.oauth.token_calls("client_credentials") == 2


def test_the_own_proxy_bypass_list_is_honoured(
    desk: Desk, global_proxy: ForwardProxy, own_proxy: ForwardProxy
) -> None:
    use_global_proxy(desk, global_proxy)
    desk.create_connection("On-prem API", "cc-basic",
                           **through(own_proxy, proxy_bypass=["localhost", "127.0.0.0/8"]))

    handed_out(desk, "On-prem API")
    desk.server.td.outbound.close()

    assert own_proxy.requests_to(server_of(desk)) == []
    assert global_proxy.requests_to(server_of(desk)) == []  # bypassed: not the global one
    assert desk.oauth.token_calls("client_credentials") == 1


def test_refreshes_and_revocations_take_the_connection_s_own_proxy(
    desk: Desk, clock: Clock, global_proxy: ForwardProxy, own_proxy: ForwardProxy
) -> None:
    use_global_proxy(desk, global_proxy)
    desk.create_connection("On-prem API", "cc-basic", **through(own_proxy))
    seen = []
    handed_out(desk, "On-prem API")
    desk.server.td.outbound.close()  # each step's connection closed: one log line each
    seen.append(len(own_proxy.requests_to(server_of(desk))))
    clock.advance(11)  # past FORCED_REFRESH_INTERVAL_S

    refreshed = desk.admin.post("/connections/On-prem API/tokens/shared/refresh")
    desk.server.td.outbound.close()
    seen.append(len(own_proxy.requests_to(server_of(desk), at_least=2)))
    deleted = desk.admin.delete("/connections/On-prem API")
    desk.server.td.outbound.close()
    seen.append(len(own_proxy.requests_to(server_of(desk), at_least=3)))

    assert refreshed.status_code == 200, refreshed.text
    assert deleted.status_code == 204, deleted.text
    assert desk.oauth.token_calls("client_credentials") == 2
    assert desk.oauth.stats()["revocation"]["total"] >= 1
    assert seen[0] == 1 and seen[1] >= 2 and seen[2] >= 3, seen
    assert global_proxy.requests_to(server_of(desk)) == []


def test_a_refusing_own_proxy_gets_a_verdict_naming_it_without_its_password(
    desk: Desk, own_proxy: ForwardProxy
) -> None:
    desk.create_connection("On-prem API", "cc-basic",
                           **through(own_proxy, proxy_password="wrong-pr0xy-word"))

    verdict = desk.admin.post("/connections/On-prem API/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "proxy", verdict
    assert f"127.0.0.1:{own_proxy.port}" in verdict["message"]
    assert "wrong-pr0xy-word" not in str(verdict)
    assert own_proxy.authentication_failures() >= 1
    assert desk.oauth.token_calls() == 0


def test_discovery_and_consent_of_a_code_flow_connection_take_its_own_proxy(
    desk: Desk, global_proxy: ForwardProxy, own_proxy: ForwardProxy
) -> None:
    use_global_proxy(desk, global_proxy)
    client = desk.oauth.clients["code-basic"]
    created = desk.admin.post("/connections", json={
        "name": "On-prem SSO", "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "scopes": "openid offline_access api:read", "invited_roles": [BOT_ROLE],
        "issuer": desk.oauth.issuer, **through(own_proxy)})
    assert created.status_code == 201, created.text
    desk.server.td.outbound.close()
    discovered = len(own_proxy.requests_to(server_of(desk)))
    desk.oauth.register_client(replace(client, redirect_uris=(
        *client.redirect_uris, created.json()["callback_url"])))
    browser = desk.browser()
    link = desk.admin.post("/connections/On-prem SSO/test", json={"save_credentials": True})

    landing = browser.get(desk.oauth.complete_consent(browser, link.json()["authorize_url"]))
    page = browser.get(desk.server.url + landing.headers["location"])
    desk.server.td.outbound.close()

    assert discovered >= 1  # the issuer's metadata was read through its own proxy
    assert "The connection works" in page.text
    assert f"through the proxy at 127.0.0.1:{own_proxy.port}" in page.text
    assert len(own_proxy.requests_to(server_of(desk), at_least=discovered + 1)) > discovered
    assert global_proxy.requests_to(server_of(desk)) == []
    assert OWN_PASSWORD not in page.text
